//! What an invocation did, for operators: one log line and one CloudWatch embedded metric
//! format (EMF) line, so metrics cost no API calls. Never whole events, never credentials.

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::outcome::{Outcome, Verdict};
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
    let failed_sends: usize = outcome
        .errors()
        .map(|(invalidation, _)| invalidation.changes().len())
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
        failed_records: outcome.plan.rejected.len() + failed_sends,
        deferred_paths: outcome
            .deferred()
            .map(|(invalidation, _)| invalidation.paths.len())
            .sum(),
    }
}

/// At most this many skipped or failed records are listed in the log line; counts stay exact.
const LISTED: usize = 20;

fn listed<T: Serialize>(items: &[T]) -> String {
    serde_json::to_string(&items[..items.len().min(LISTED)])
        .expect("plain structs always serialise")
}

/// The one log line of an invocation. The request id comes from the runtime's span.
pub fn log(outcome: &Outcome) {
    let counts = counts(outcome);
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
    macro_rules! outcome_line {
        ($level:ident) => {
            tracing::$level!(
                outcome = verdict.as_str(),
                invalidations = ids.join(","),
                caller_references = references.join(","),
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
                "invalidation outcome"
            )
        };
    }
    match verdict {
        Verdict::Ok => outcome_line!(info),
        Verdict::RetryLater | Verdict::Failed => outcome_line!(warn),
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
