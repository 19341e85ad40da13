//! What one invocation did: the plan, each request as finally sent and how it went, and the
//! records that failed. The answer to Lambda ([`crate::handler`]) and the operator's report
//! ([`crate::report`]) both read it; neither decides anything the other decides again.

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use serde::{Serialize, Serializer};

use crate::event::{Change, Reason};
use crate::plan::{Invalidation, Plan};
use crate::send::{Receipt, SendError, Sent};

/// One request as finally sent, and how it went.
#[derive(Debug)]
pub struct Delivery {
    pub invalidation: Invalidation,
    pub sent: Sent,
    /// CloudFront had no room; the paths were written to the queue, due after this delay.
    pub deferred: Option<Duration>,
}

/// A single path CloudFront refused, and what it said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefusedPath {
    pub path: String,
    pub message: String,
}

/// Everything one invocation did.
#[derive(Debug)]
pub struct Outcome {
    pub plan: Plan,
    /// The requests as finally sent: the planned ones, or the parts of a refused one.
    pub deliveries: Vec<Delivery>,
    /// Paths CloudFront refused on their own; each was widened or its changes failed.
    pub refused: Vec<RefusedPath>,
    /// The decoded changes the plan's indices refer to.
    pub changes: Vec<Change>,
    /// Message ids of an SQS batch; `None` for other event sources.
    pub sqs_message_ids: Option<Vec<String>>,
}

/// How an invocation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Every record was invalidated or deliberately skipped.
    Ok,
    /// Something failed that a later attempt may fix; the event (or its messages) comes back.
    RetryLater,
    /// Something failed that a later attempt cannot fix: input, configuration, permissions.
    Failed,
}

impl Verdict {
    /// The word the outcome log line carries.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::RetryLater => "retry_later",
            Verdict::Failed => "failed",
        }
    }
}

/// Why a record was not invalidated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureReason {
    /// The record could not be read or mapped to a path.
    Rejected(Reason),
    /// Its invalidation was not created.
    Unsent {
        caller_reference: String,
        error: SendError,
    },
}

impl fmt::Display for FailureReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailureReason::Rejected(reason) => reason.fmt(f),
            FailureReason::Unsent {
                caller_reference,
                error,
            } => write!(f, "invalidation {caller_reference}: {error}"),
        }
    }
}

impl Serialize for FailureReason {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A record (or SQS message) left unprocessed, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    pub record: String,
    pub reason: FailureReason,
}

impl Outcome {
    /// Each request as finally sent, with how sending it went.
    pub fn attempts(&self) -> impl Iterator<Item = (&Invalidation, &Sent)> {
        self.deliveries.iter().map(|d| (&d.invalidation, &d.sent))
    }

    pub fn receipts(&self) -> impl Iterator<Item = (&Invalidation, &Receipt)> {
        self.attempts()
            .filter_map(|(invalidation, sent)| Some((invalidation, sent.result.as_ref().ok()?)))
    }

    /// Requests that failed and were not deferred.
    pub fn errors(&self) -> impl Iterator<Item = (&Invalidation, &SendError)> {
        self.deliveries
            .iter()
            .filter(|d| d.deferred.is_none())
            .filter_map(|d| Some((&d.invalidation, d.sent.result.as_ref().err()?)))
    }

    /// Requests written to the queue for later, with their delay.
    pub fn deferred(&self) -> impl Iterator<Item = (&Invalidation, Duration)> {
        self.deliveries
            .iter()
            .filter_map(|d| Some((&d.invalidation, d.deferred?)))
    }

    pub fn verdict(&self) -> Verdict {
        if self.errors().any(|(_, e)| e.is_retryable()) {
            Verdict::RetryLater
        } else if self.errors().next().is_some() || !self.plan.rejected.is_empty() {
            Verdict::Failed
        } else {
            Verdict::Ok
        }
    }

    /// Indices of SQS messages that must come back: their input was bad or their
    /// invalidation was not created.
    pub fn failed_messages(&self) -> BTreeSet<usize> {
        let rejected = self.plan.rejected.iter().filter_map(|r| r.message_index);
        let unsent = self.errors().flat_map(|(invalidation, _)| {
            invalidation
                .changes()
                .into_iter()
                .filter_map(|i| self.changes[i].message_index)
        });
        rejected.chain(unsent).collect()
    }

    /// Every record that was not invalidated, with its reason.
    pub fn failures(&self) -> Vec<Failure> {
        let rejected = self.plan.rejected.iter().map(|r| Failure {
            record: r.record.clone(),
            reason: FailureReason::Rejected(r.reason.clone()),
        });
        let unsent = self.errors().flat_map(|(invalidation, error)| {
            invalidation.changes().into_iter().map(move |i| Failure {
                record: self.changes[i].record.clone(),
                reason: FailureReason::Unsent {
                    caller_reference: invalidation.caller_reference.clone(),
                    error: error.clone(),
                },
            })
        });
        rejected.chain(unsent).collect()
    }
}
