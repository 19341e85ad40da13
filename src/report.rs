//! What an invocation did, for operators: one log line and one CloudWatch embedded metric
//! format (EMF) line, so metrics cost no API calls. Never whole events, never credentials.

use serde::Serialize;
use serde_json::json;

use crate::handler::Outcome;
use crate::send::SendError;

/// The figures an operator watches, per invocation.
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
}

/// Records (or SQS messages) left unprocessed and why, for the log line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    pub record: String,
    pub reason: String,
}

fn is_throttle(error: &SendError) -> bool {
    matches!(
        error,
        SendError::Throttled(_) | SendError::TooManyInProgress
    )
}

impl Outcome {
    pub fn counts(&self) -> Counts {
        let receipts: Vec<_> = self.receipts().collect();
        let reused = receipts
            .iter()
            .filter(|(_, receipt)| receipt.reused)
            .count();
        let retried: Vec<&SendError> = self
            .attempts()
            .flat_map(|(_, sent)| &sent.retried_after)
            .collect();
        let failed_sends = self
            .errors()
            .map(|(invalidation, _)| invalidation.changes().len())
            .sum::<usize>();
        Counts {
            changed_paths: self.plan.summary.changed_paths,
            billed_paths: receipts
                .iter()
                .filter(|(_, receipt)| !receipt.reused)
                .map(|(invalidation, _)| invalidation.paths.len())
                .sum(),
            wildcards: receipts
                .iter()
                .filter(|(_, receipt)| !receipt.reused)
                .map(|(invalidation, _)| {
                    invalidation
                        .paths
                        .iter()
                        .filter(|p| p.ends_with('*'))
                        .count()
                })
                .sum(),
            invalidations_created: receipts.len() - reused,
            invalidations_reused: reused,
            retries: retried.len(),
            throttles: retried.iter().filter(|e| is_throttle(e)).count()
                + self.errors().filter(|(_, e)| is_throttle(e)).count(),
            skipped_records: self.plan.skipped.len(),
            failed_records: self.plan.rejected.len() + failed_sends,
        }
    }

    pub fn failures(&self) -> Vec<Failure> {
        let rejected = self.plan.rejected.iter().map(|r| Failure {
            record: r.record.clone(),
            reason: r.reason.clone(),
        });
        let unsent = self.errors().flat_map(|(invalidation, error)| {
            invalidation.changes().into_iter().map(move |i| Failure {
                record: self.changes[i].record.clone(),
                reason: format!("invalidation {}: {error}", invalidation.caller_reference),
            })
        });
        rejected.chain(unsent).collect()
    }

    /// How the invocation ended, in one word.
    pub fn verdict(&self) -> &'static str {
        let mut errors = self.errors().map(|(_, e)| e).peekable();
        if errors.peek().is_none() && self.plan.rejected.is_empty() {
            "ok"
        } else if self.errors().any(|(_, e)| e.is_retryable()) {
            "retry_later"
        } else {
            "failed"
        }
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
    let counts = outcome.counts();
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
                outcome = outcome.verdict(),
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
                failed = %listed(&failures),
                refused_paths = %listed(&outcome.refused),
                "invalidation outcome"
            )
        };
    }
    match outcome.verdict() {
        "ok" => outcome_line!(info),
        _ => outcome_line!(warn),
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
    let names = [
        "ChangedPaths",
        "BilledPaths",
        "Wildcards",
        "InvalidationsCreated",
        "InvalidationsReused",
        "Retries",
        "Throttles",
        "SkippedRecords",
        "FailedRecords",
    ];
    let mut line = json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": [["FunctionName"]],
                "Metrics": names.iter().map(|name| json!({"Name": name, "Unit": "Count"})).collect::<Vec<_>>(),
            }],
        },
        "FunctionName": function_name,
        // A property, not a dimension: searchable in Logs Insights, free in CloudWatch.
        "RequestId": request_id,
    });
    let values = serde_json::to_value(counts).expect("counts always serialise");
    line.as_object_mut().expect("built as an object").extend(
        values
            .as_object()
            .expect("a struct serialises to an object")
            .clone(),
    );
    line.to_string()
}
