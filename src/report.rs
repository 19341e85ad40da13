//! What an invocation did, for operators: one log line and one CloudWatch embedded metric
//! format (EMF) line, so metrics cost no API calls; and for each invalidation seen completed,
//! a log line and an EMF line of how long it took. Never whole events, never credentials.

use serde::Serialize;
use serde_json::{Map, Value, json};

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

fn listed<T: Serialize>(items: &[T]) -> String {
    serde_json::to_string(&items[..items.len().min(LISTED)])
        .expect("plain structs always serialise")
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
            .join(",")
    };
    let checked_again = outcome
        .checks
        .iter()
        .filter(|check| matches!(check.result, Ok(Checked::CheckAgain(_))))
        .count();
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
                checks = outcome.checks.len(),
                completed = announced(Kind::Completed),
                overdue = announced(Kind::Overdue),
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
