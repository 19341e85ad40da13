//! What an invocation did, for operators: one log line and one CloudWatch embedded metric
//! format (EMF) line, so metrics cost no API calls; and for each invalidation seen completed,
//! a log line and an EMF line of how long it took. Never whole events, never credentials.
//!
//! With Lambda's JSON log format each line is one flat object ([`init_logging`]): the
//! fields at the top level next to `timestamp`, `level`, `message` and the runtime's
//! `requestId`, and lists (records skipped or failed, invalidation ids) as JSON arrays, so
//! CloudWatch Logs Insights can filter on them. The text format is the runtime's own.

use std::fmt;
use std::str::FromStr;

use lambda_runtime::tracing::subscriber;
use serde::Serialize;
use serde_json::{Map, Value, json};
use subscriber::filter::{EnvFilter, LevelFilter};
use subscriber::fmt::format::{FormatEvent, JsonFields, Writer};
use subscriber::fmt::time::{FormatTime, SystemTime};
use subscriber::fmt::{FmtContext, FormattedFields, MakeWriter};
use subscriber::registry::LookupSpan;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};

use crate::event::Reason;
use crate::outcome::{Checked, Outcome, Verdict};
use crate::publish::Kind;
use crate::send::SendError;

/// The figures an operator watches, per invocation. Each field is one metric, named by its
/// field name in PascalCase: this struct is the only list of metric names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Counts {
    pub changed_paths: usize,
    pub billed_paths: usize,
    pub wildcards: usize,
    pub invalidations_created: usize,
    pub invalidations_reused: usize,
    pub retries: usize,
    pub throttles: usize,
    pub skipped_records: usize,
    pub failed_records: usize,
    /// Paths written to the queue because CloudFront had no room for them.
    pub deferred_paths: usize,
    /// Invalidations still in progress at the overdue bound: announced, no longer watched.
    pub invalidations_overdue: usize,
    /// Work messages refused because they did not come from the function's work queue.
    pub refused_work: usize,
    /// Invalidations made whose completion check could not be queued.
    pub invalidations_unwatched: usize,
}

fn is_throttle(error: &SendError) -> bool {
    matches!(
        error,
        SendError::Throttled(_) | SendError::TooManyInProgress
    )
}

/// The counts of an invocation.
pub fn counts(outcome: &Outcome) -> Counts {
    let receipts: Vec<_> = outcome.receipts().collect();
    let created = || receipts.iter().filter(|(_, receipt)| !receipt.reused);
    let retried: Vec<&SendError> = outcome
        .attempts()
        .flat_map(|(_, sent)| &sent.retried_after)
        .collect();
    // Changes whose invalidation was not made, or made but not watched.
    let failed_sends: usize = outcome
        .errors()
        .map(|(invalidation, _)| invalidation)
        .chain(
            outcome
                .unwatched()
                .filter(|_| outcome.sqs_message_ids.is_none())
                .map(|(invalidation, _)| invalidation),
        )
        .map(|invalidation| invalidation.changes().len())
        .sum();
    let failed_checks: usize = outcome
        .failed_checks()
        .map(|(check, _)| check.asked.len())
        .sum();
    Counts {
        changed_paths: outcome.plan.summary.changed_paths,
        billed_paths: created()
            .map(|(invalidation, _)| invalidation.paths.len())
            .sum(),
        wildcards: created()
            .flat_map(|(invalidation, _)| &invalidation.paths)
            .filter(|path| path.ends_with('*'))
            .count(),
        invalidations_created: created().count(),
        invalidations_reused: receipts.len() - created().count(),
        retries: retried.len(),
        throttles: retried.iter().filter(|e| is_throttle(e)).count()
            + outcome.errors().filter(|(_, e)| is_throttle(e)).count(),
        skipped_records: outcome.plan.skipped.len(),
        failed_records: outcome.plan.rejected.len() + failed_sends + failed_checks,
        deferred_paths: outcome
            .deferred()
            .map(|(invalidation, _)| invalidation.paths.len())
            .sum(),
        invalidations_overdue: outcome
            .announced()
            .filter(|event| event.kind == Kind::Overdue)
            .count(),
        refused_work: outcome
            .plan
            .rejected
            .iter()
            .filter(|r| matches!(r.reason, Reason::UntrustedWork { .. }))
            .count(),
        invalidations_unwatched: outcome.unwatched().count(),
    }
}

/// At most this many skipped or failed records are listed in the log line; counts stay exact.
const LISTED: usize = 20;

/// Items recorded as JSON text: an array in the JSON format's line, readable as text.
struct JsonList<'a, T>(&'a [T]);

impl<T: Serialize> fmt::Display for JsonList<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&serde_json::to_string(self.0).map_err(|_| fmt::Error)?)
    }
}

/// The first [`LISTED`] items.
fn listed<T: Serialize>(items: &[T]) -> JsonList<'_, T> {
    JsonList(&items[..items.len().min(LISTED)])
}

/// The one log line of an invocation, with its `counts`. The request id comes from the
/// runtime's span.
pub fn log(outcome: &Outcome, counts: &Counts) {
    let verdict = outcome.verdict();
    let ids: Vec<&str> = outcome
        .receipts()
        .map(|(_, receipt)| receipt.id.as_deref().unwrap_or("(exists)"))
        .collect();
    let references: Vec<&str> = outcome
        .attempts()
        .map(|(i, _)| i.caller_reference.as_str())
        .collect();
    let failures = outcome.failures();
    let announced = |kind: Kind| {
        outcome
            .announced()
            .filter(|event| event.kind == kind)
            .map(|event| event.detail.invalidation_id.as_str())
            .collect::<Vec<_>>()
    };
    let (completed, overdue) = (announced(Kind::Completed), announced(Kind::Overdue));
    let checked_again = outcome
        .checks
        .iter()
        .filter(|check| matches!(check.result, Ok(Checked::CheckAgain(_))))
        .count();
    macro_rules! outcome_line {
        ($level:ident) => {
            tracing::$level!(
                outcome = verdict.as_str(),
                invalidations = %JsonList(&ids),
                caller_references = %JsonList(&references),
                changed_paths = counts.changed_paths,
                billed_paths = counts.billed_paths,
                wildcards = counts.wildcards,
                reused = counts.invalidations_reused,
                retries = counts.retries,
                throttles = counts.throttles,
                skipped_records = counts.skipped_records,
                skipped = %listed(&outcome.plan.skipped),
                failed_records = counts.failed_records,
                deferred_paths = counts.deferred_paths,
                failed = %listed(&failures),
                refused_paths = %listed(&outcome.refused),
                checks = outcome.checks.len(),
                completed = %JsonList(&completed),
                overdue = %JsonList(&overdue),
                checked_again,
                "invalidation outcome"
            )
        };
    }
    match verdict {
        Verdict::Ok => outcome_line!(info),
        Verdict::RetryLater | Verdict::Failed => outcome_line!(warn),
    }
    for event in outcome.announced() {
        let detail = &event.detail;
        match event.kind {
            Kind::Completed => tracing::info!(
                distribution_id = %detail.distribution_id,
                invalidation_id = %detail.invalidation_id,
                seconds_to_complete = detail.seconds_to_complete,
                in_progress_at = detail.in_progress_at.map(|t| t.to_string()),
                event_id = %detail.event_id,
                "invalidation completed"
            ),
            Kind::Overdue => tracing::warn!(
                distribution_id = %detail.distribution_id,
                invalidation_id = %detail.invalidation_id,
                seconds_in_progress = detail.seconds_in_progress,
                event_id = %detail.event_id,
                "invalidation overdue"
            ),
        }
    }
}

/// A CloudWatch embedded metric format line; CloudWatch Logs turns it into metrics.
pub fn emf_line(
    counts: &Counts,
    namespace: &str,
    function_name: &str,
    request_id: &str,
    timestamp_ms: u128,
) -> String {
    let Ok(Value::Object(values)) = serde_json::to_value(counts) else {
        unreachable!("a struct of numbers serialises to an object");
    };
    let metrics: Vec<Value> = values
        .keys()
        .map(|name| json!({"Name": name, "Unit": "Count"}))
        .collect();
    let mut line = Map::new();
    line.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": [["FunctionName"]],
                "Metrics": metrics,
            }],
        }),
    );
    line.insert("FunctionName".into(), function_name.into());
    // A property, not a dimension: searchable in Logs Insights, free in CloudWatch.
    line.insert("RequestId".into(), request_id.into());
    line.extend(values);
    Value::Object(line).to_string()
}

/// One EMF line per invalidation seen completed, with `SecondsToComplete` (unit Seconds) under
/// the dimensions FunctionName and DistributionId, so the time a site stays stale shows per
/// distribution, and each invalidation is one sample of its percentiles. Left out when the
/// invalidation was never seen in progress: then the figure says only how late it was seen.
pub fn completion_emf_lines(
    outcome: &Outcome,
    namespace: &str,
    function_name: &str,
    request_id: &str,
) -> Vec<String> {
    outcome
        .announced()
        .filter_map(|event| {
            let seconds = event.seconds_to_complete()?;
            let detail = &event.detail;
            Some(
                json!({
                    "_aws": {
                        "Timestamp": detail.observed_at.epoch_millis(),
                        "CloudWatchMetrics": [{
                            "Namespace": namespace,
                            "Dimensions": [["FunctionName", "DistributionId"]],
                            "Metrics": [{"Name": "SecondsToComplete", "Unit": "Seconds"}],
                        }],
                    },
                    "FunctionName": function_name,
                    "DistributionId": detail.distribution_id,
                    "InvalidationId": detail.invalidation_id,
                    "RequestId": request_id,
                    "SecondsToComplete": seconds,
                })
                .to_string(),
            )
        })
        .collect()
}

/// Installs the log subscriber: with `AWS_LAMBDA_LOG_FORMAT=JSON`, flat JSON lines (as the
/// module says) at the runtime's level (`AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`, else INFO,
/// as its default subscriber reads them); otherwise the runtime's default text subscriber.
pub fn init_logging() {
    let format = std::env::var("AWS_LAMBDA_LOG_FORMAT").unwrap_or_default();
    if !format.eq_ignore_ascii_case("json") {
        return lambda_runtime::tracing::init_default_subscriber();
    }
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL").or_else(|_| std::env::var("RUST_LOG"));
    let level =
        LevelFilter::from_str(level.as_deref().unwrap_or("INFO")).unwrap_or(LevelFilter::INFO);
    let filter = EnvFilter::builder()
        .with_default_directive(level.into())
        .from_env_lossy();
    tracing::subscriber::set_global_default(json_subscriber(filter, std::io::stdout))
        .expect("the log subscriber is installed once, at start-up");
}

/// The JSON-format subscriber: [`LambdaJson`] lines to `writer`.
fn json_subscriber<W>(filter: EnvFilter, writer: W) -> impl Subscriber + Send + Sync + 'static
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    subscriber::fmt()
        .with_env_filter(filter)
        .fmt_fields(JsonFields::new())
        .event_format(LambdaJson)
        .with_writer(writer)
        .finish()
}

/// One flat JSON object per event: `timestamp` (RFC 3339, UTC), `level`, `message`, the
/// fields of the spans it is in (the runtime's `requestId`, `xrayTraceId`), then its own
/// fields. A field recorded as JSON array text ([`JsonList`]) is written as that array.
struct LambdaJson;

impl<S> FormatEvent<S, JsonFields> for LambdaJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, JsonFields>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut timestamp = String::new();
        SystemTime.format_time(&mut Writer::new(&mut timestamp))?;
        let mut fields = EventFields::default();
        event.record(&mut fields);
        let mut line = FlatObject::default();
        line.push("timestamp", timestamp.into());
        line.push("level", event.metadata().level().as_str().into());
        if let Some(message) = fields.message.take() {
            line.push("message", message.into());
        }
        for span in ctx
            .event_scope()
            .into_iter()
            .flat_map(|scope| scope.from_root())
        {
            let extensions = span.extensions();
            // JsonFields stored each span's fields as a JSON object.
            let Some(recorded) = extensions.get::<FormattedFields<JsonFields>>() else {
                continue;
            };
            if let Ok(Value::Object(span_fields)) = serde_json::from_str(recorded) {
                for (name, value) in span_fields {
                    line.push(&name, value);
                }
            }
        }
        for (name, value) in fields.fields {
            line.push(name, value);
        }
        line.text.push('}');
        writeln!(writer, "{}", line.text)
    }
}

/// A JSON object written as it is built, keys in the order given. A key given again (a
/// field named `level`, or like a span's) is written as `field_<name>`, not dropped.
#[derive(Default)]
struct FlatObject {
    text: String,
    keys: Vec<String>,
}

impl FlatObject {
    fn push(&mut self, name: &str, value: Value) {
        let key = if self.keys.iter().any(|key| key == name) {
            format!("field_{name}")
        } else {
            name.to_owned()
        };
        self.text.push(if self.keys.is_empty() { '{' } else { ',' });
        self.text.push_str(&Value::String(key.clone()).to_string());
        self.text.push(':');
        self.text.push_str(&value.to_string());
        self.keys.push(key);
    }
}

/// An event's message and fields, as JSON values in the order recorded.
#[derive(Default)]
struct EventFields {
    message: Option<String>,
    fields: Vec<(&'static str, Value)>,
}

impl EventFields {
    fn record(&mut self, field: &Field, value: Value) {
        if field.name() == "message" {
            self.message = Some(match value {
                Value::String(text) => text,
                other => other.to_string(),
            });
        } else {
            self.fields.push((field.name(), value));
        }
    }
}

impl Visit for EventFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.record(field, value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.record(field, value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.record(field, value.into());
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.record(field, value.into());
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.record(field, value.into());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let text = format!("{value:?}");
        let list = text
            .starts_with('[')
            .then(|| serde_json::from_str::<Value>(&text).ok())
            .flatten()
            .filter(Value::is_array);
        self.record(field, list.unwrap_or(Value::String(text)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;
    use std::sync::{Arc, Mutex};

    /// What the subscriber wrote, shared with the test.
    #[derive(Clone, Default)]
    struct Written(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Written {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn json_lines(log: impl FnOnce()) -> Vec<Value> {
        let written = Written::default();
        let writer = written.clone();
        let subscriber = json_subscriber(EnvFilter::new("info"), move || writer.clone());
        tracing::subscriber::with_default(subscriber, log);
        let text = String::from_utf8(written.0.lock().unwrap().clone()).unwrap();
        text.lines()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
            .collect()
    }

    #[test]
    fn json_lines_are_flat_with_the_request_id_and_lists_as_arrays() {
        let failures = [json!({"record": "message m-1", "reason": "body is not JSON"})];
        let lines = json_lines(|| {
            let span = tracing::info_span!("Lambda runtime invoke", requestId = "req-1");
            let _entered = span.enter();
            tracing::warn!(
                outcome = "failed",
                billed_paths = 2u64,
                failed = %listed(&failures),
                invalidations = %JsonList(&["I1", "I2"]),
                error = %"[not json",
                "invalidation outcome"
            );
            tracing::debug!("filtered out");
        });
        assert_eq!(lines.len(), 1, "{lines:?}");
        let line = lines[0].as_object().unwrap();
        let keys: std::collections::BTreeSet<&str> = line.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            std::collections::BTreeSet::from([
                "billed_paths",
                "error",
                "failed",
                "invalidations",
                "level",
                "message",
                "outcome",
                "requestId",
                "timestamp"
            ])
        );
        assert_eq!(line["level"], "WARN");
        assert_eq!(line["message"], "invalidation outcome");
        assert_eq!(line["requestId"], "req-1");
        assert_eq!(line["billed_paths"], 2);
        assert_eq!(line["failed"], json!(failures));
        assert_eq!(line["invalidations"], json!(["I1", "I2"]));
        // Text that only looks like a list stays text.
        assert_eq!(line["error"], "[not json");
        // RFC 3339 in UTC, as Lambda reads a JSON line's timestamp.
        let timestamp = line["timestamp"].as_str().unwrap();
        let bytes = timestamp.as_bytes();
        assert!(
            timestamp.len() == 27
                && bytes[4] == b'-'
                && bytes[10] == b'T'
                && bytes[19] == b'.'
                && timestamp.ends_with('Z'),
            "{timestamp}"
        );
    }

    #[test]
    fn a_field_named_like_a_line_key_is_kept_beside_it() {
        let lines = json_lines(|| tracing::info!(level = "custom", timestamp = 3u64, "clash"));
        let line = &lines[0];
        assert_eq!(
            (
                &line["level"],
                &line["field_level"],
                &line["field_timestamp"]
            ),
            (&json!("INFO"), &json!("custom"), &json!(3))
        );
    }

    #[test]
    fn at_most_listed_items_are_written() {
        let many: Vec<usize> = (0..LISTED + 5).collect();
        assert_eq!(
            listed(&many).to_string(),
            serde_json::to_string(&many[..LISTED]).unwrap()
        );
    }
}
