//! One invocation: decode, plan, send, and answer in the shape the event source expects.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::future::join_all;
use lambda_runtime::Diagnostic;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::config::Config;
use crate::event::{self, EventError};
use crate::plan::{self, Invalidation, Plan};
use crate::report;
use crate::send::{Backoff, Invalidator, Receipt, SendError, Sent, send};

/// Time kept back from the Lambda deadline to answer (and log) before being cut off.
pub const DEADLINE_MARGIN: Duration = Duration::from_millis(500);

pub struct Handler<I> {
    pub config: Config,
    pub invalidator: I,
    pub backoff: Backoff,
    /// Where embedded-format metrics go; `None` prints none.
    pub metrics: Option<Metrics>,
}

/// The CloudWatch namespace and dimension of the metrics lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metrics {
    pub namespace: String,
    pub function_name: String,
}

/// Requests one invocation may spend finding the paths CloudFront refuses: enough to isolate
/// a few bad paths among 3,000 (about 2 log2 n each), and few enough for its rate limit.
pub const ISOLATION_REQUESTS: usize = 64;

/// One request as finally sent, and how it went.
#[derive(Debug)]
pub struct Delivery {
    pub invalidation: Invalidation,
    pub sent: Sent,
}

/// A single path CloudFront refused, and what it said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefusedPath {
    pub path: String,
    pub message: String,
}

/// Everything one invocation did, for the answer and the logs.
#[derive(Debug)]
pub struct Outcome {
    pub plan: Plan,
    /// The requests as finally sent: the planned ones, or the parts of a refused one.
    pub deliveries: Vec<Delivery>,
    /// Paths CloudFront refused on their own; each was widened or its changes failed.
    pub refused: Vec<RefusedPath>,
    /// The decoded changes the plan's indices refer to.
    pub changes: Vec<event::Change>,
    /// Message ids of an SQS batch; `None` for other event sources.
    pub sqs_messages: Option<Vec<String>>,
}

#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error(transparent)]
    Event(#[from] EventError),
    /// Something failed that a later attempt cannot fix (configuration, permissions, input).
    #[error("{0}")]
    Failed(String),
    /// Something failed that a later attempt may fix; Lambda retries the event.
    #[error("{0}")]
    RetryLater(String),
}

impl From<HandlerError> for Diagnostic {
    fn from(error: HandlerError) -> Diagnostic {
        let error_type = match &error {
            HandlerError::Event(EventError::NotJson(_)) => "EventNotJson",
            HandlerError::Event(EventError::Unrecognised(_)) => "EventNotRecognised",
            HandlerError::Failed(_) => "InvalidationFailed",
            HandlerError::RetryLater(_) => "InvalidationRetryLater",
        };
        Diagnostic {
            error_type: error_type.into(),
            error_message: error.to_string(),
        }
    }
}

#[derive(Serialize)]
struct SentSummary<'a> {
    distribution_id: &'a str,
    caller_reference: &'a str,
    /// `null` when CloudFront said the batch exists without naming it.
    id: Option<&'a str>,
    status: Option<&'a str>,
    paths: usize,
}

impl Outcome {
    /// Indices of SQS messages that must come back: their input was bad or their
    /// invalidation was not created.
    pub fn failed_messages(&self) -> BTreeSet<usize> {
        let mut failed: BTreeSet<usize> = self
            .plan
            .rejected
            .iter()
            .filter_map(|r| r.message)
            .collect();
        for (invalidation, _) in self.errors() {
            failed.extend(
                invalidation
                    .changes()
                    .into_iter()
                    .filter_map(|i| self.changes[i].message),
            );
        }
        failed
    }

    /// Each request as finally sent, with how sending it went.
    pub fn attempts(&self) -> impl Iterator<Item = (&Invalidation, &Sent)> {
        self.deliveries.iter().map(|d| (&d.invalidation, &d.sent))
    }

    pub fn receipts(&self) -> impl Iterator<Item = (&Invalidation, &Receipt)> {
        self.attempts().filter_map(|(invalidation, sent)| {
            sent.result
                .as_ref()
                .ok()
                .map(|receipt| (invalidation, receipt))
        })
    }

    pub fn errors(&self) -> impl Iterator<Item = (&Invalidation, &SendError)> {
        self.attempts().filter_map(|(invalidation, sent)| {
            sent.result
                .as_ref()
                .err()
                .map(|error| (invalidation, error))
        })
    }

    fn success_body(&self) -> Value {
        let invalidations: Vec<SentSummary> = self
            .receipts()
            .map(|(invalidation, receipt)| SentSummary {
                distribution_id: &invalidation.distribution_id,
                caller_reference: &invalidation.caller_reference,
                id: receipt.id.as_deref(),
                status: receipt.status.as_deref(),
                paths: invalidation.paths.len(),
            })
            .collect();
        json!({
            "invalidations": invalidations,
            "skipped": self.plan.skipped,
            "summary": self.plan.summary,
        })
    }
}

impl<I: Invalidator> Handler<I> {
    pub fn new(config: Config, invalidator: I) -> Self {
        Handler {
            config,
            invalidator,
            backoff: Backoff::default(),
            metrics: None,
        }
    }

    /// Runs one event, logs and measures it; `deadline` is when the answer must be ready.
    pub async fn handle(&self, event: &Value, deadline: Instant) -> Result<Value, HandlerError> {
        self.handle_request(event, deadline, "").await
    }

    /// As [`Handler::handle`], with Lambda's request id on the metrics line.
    pub async fn handle_request(
        &self,
        event: &Value,
        deadline: Instant,
        request_id: &str,
    ) -> Result<Value, HandlerError> {
        let outcome = self.run(event, deadline).await.inspect_err(|error| {
            tracing::error!(outcome = "failed", error = %error, "invalidation outcome");
        })?;
        report::log(&outcome);
        if let Some(metrics) = &self.metrics {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_millis();
            println!(
                "{}",
                report::emf_line(
                    &outcome.counts(),
                    &metrics.namespace,
                    &metrics.function_name,
                    request_id,
                    now
                )
            );
        }
        answer(&outcome)
    }

    /// Decodes, plans and sends; the outcome says what happened to every record.
    pub async fn run(&self, event: &Value, deadline: Instant) -> Result<Outcome, HandlerError> {
        let decoded = event::decode(event)?;
        let plan = plan::plan(&decoded, &self.config);
        // Distributions go concurrently, so one refusing for the whole deadline does not starve
        // the others; a distribution's own requests go in turn, for its in-progress limits.
        let mut by_distribution: Vec<Vec<&Invalidation>> = Vec::new();
        for invalidation in &plan.invalidations {
            match by_distribution.last_mut() {
                Some(group) if group[0].distribution_id == invalidation.distribution_id => {
                    group.push(invalidation)
                }
                _ => by_distribution.push(vec![invalidation]),
            }
        }
        let isolation_budget = AtomicUsize::new(ISOLATION_REQUESTS);
        let changes = &decoded.changes;
        let budget = &isolation_budget;
        let groups = join_all(by_distribution.into_iter().map(|group| async move {
            let mut deliveries = Vec::new();
            let mut refused = Vec::new();
            for invalidation in group {
                self.deliver(
                    invalidation.clone(),
                    changes,
                    deadline,
                    budget,
                    &mut deliveries,
                    &mut refused,
                )
                .await;
            }
            (deliveries, refused)
        }))
        .await;
        let (deliveries, refused): (Vec<_>, Vec<_>) = groups.into_iter().unzip();
        Ok(Outcome {
            plan,
            deliveries: deliveries.into_iter().flatten().collect(),
            refused: refused.into_iter().flatten().collect(),
            changes: decoded.changes,
            sqs_messages: decoded.sqs_messages,
        })
    }

    /// Sends one planned request. When CloudFront refuses it for a path, the request is split
    /// in halves until the refused paths are alone; each is then widened to the nearest
    /// wildcard the policy allows, or fails on its own, so the other paths still go out.
    async fn deliver(
        &self,
        planned: Invalidation,
        changes: &[event::Change],
        deadline: Instant,
        budget: &AtomicUsize,
        deliveries: &mut Vec<Delivery>,
        refused: &mut Vec<RefusedPath>,
    ) {
        let mut pending = vec![planned];
        while let Some(invalidation) = pending.pop() {
            let sent = send(&self.invalidator, &invalidation, deadline, self.backoff).await;
            if let Err(SendError::InvalidPaths(message)) = &sent.result {
                let parts: Vec<Invalidation> = match plan::halves(&invalidation, changes) {
                    Some(halves) => halves.into(),
                    None => {
                        refused.push(RefusedPath {
                            path: invalidation.paths[0].clone(),
                            message: message.clone(),
                        });
                        plan::wider(&invalidation, &self.config.policy, changes)
                            .into_iter()
                            .collect()
                    }
                };
                let affordable = budget
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                        left.checked_sub(parts.len())
                    })
                    .is_ok();
                if !parts.is_empty() && affordable {
                    // Reversed, so the first half is sent first.
                    pending.extend(parts.into_iter().rev());
                    continue;
                }
            }
            deliveries.push(Delivery { invalidation, sent });
        }
    }
}

/// The answer Lambda gets: `batchItemFailures` for SQS, a summary or an error otherwise.
pub fn answer(outcome: &Outcome) -> Result<Value, HandlerError> {
    if let Some(messages) = &outcome.sqs_messages {
        let failures: Vec<Value> = outcome
            .failed_messages()
            .into_iter()
            .map(|i| json!({ "itemIdentifier": messages[i] }))
            .collect();
        return Ok(json!({ "batchItemFailures": failures }));
    }
    let mut problems: Vec<String> = outcome
        .plan
        .rejected
        .iter()
        .map(|r| format!("{}: {}", r.record, r.reason))
        .collect();
    let mut retryable = false;
    for (invalidation, error) in outcome.errors() {
        retryable |= error.is_retryable();
        let what = match invalidation.paths.as_slice() {
            [path] => format!("path {path}"),
            paths => format!("{} paths", paths.len()),
        };
        problems.push(format!(
            "invalidation {} on {} ({what}): {error}",
            invalidation.caller_reference, invalidation.distribution_id,
        ));
    }
    if problems.is_empty() {
        return Ok(outcome.success_body());
    }
    let created = outcome.receipts().count();
    let message = format!(
        "{} problem(s), {created} invalidation(s) created: {}",
        problems.len(),
        problems.join("; ")
    );
    if retryable {
        Err(HandlerError::RetryLater(format!(
            "{message}. Lambda will retry the event; the same CallerReference makes the repeat free"
        )))
    } else {
        Err(HandlerError::Failed(message))
    }
}

/// Turns Lambda's absolute deadline into a tokio instant, less [`DEADLINE_MARGIN`].
pub fn deadline_from(lambda_deadline: std::time::SystemTime) -> Instant {
    let remaining = lambda_deadline
        .duration_since(std::time::SystemTime::now())
        .unwrap_or_default();
    Instant::now() + remaining.saturating_sub(DEADLINE_MARGIN)
}
