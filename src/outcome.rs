//! What one invocation did: the plan, each request as finally sent and how it went, each
//! completion check and what it led to, and the records that failed. The answer to Lambda
//! ([`crate::handler`]) and the operator's report ([`crate::report`]) both read it; neither
//! decides anything the other decides again.

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use serde::{Serialize, Serializer};

use crate::event::work::Watch;
use crate::event::{Change, Reason};
use crate::plan::{Invalidation, Plan};
use crate::publish::{CompletionEvent, PublishError};
use crate::queue::QueueError;
use crate::send::{Receipt, SendError, Sent};

/// One request as finally sent, and how it went.
#[derive(Debug)]
pub struct Delivery {
    pub invalidation: Invalidation,
    pub sent: Sent,
    /// CloudFront had no room; the paths were written to the queue, due after this delay.
    pub deferred: Option<Duration>,
    /// Made (or found), but its first completion check could not be queued. A direct
    /// invocation fails, and its retry (the same event, so the same references) finds it and
    /// queues the check then; an SQS batch is acknowledged all the same, since its messages
    /// could come back in other batches, under other references, and be billed twice.
    pub unwatched: Option<QueueError>,
}

/// One completion check, made once for all the messages of the invocation that ask for it.
#[derive(Debug)]
pub struct Check {
    /// The watch checked: of the messages asking, the one furthest along.
    pub watch: Watch,
    /// The messages that asked.
    pub asked: Vec<Asking>,
    pub result: Result<Checked, CheckFailure>,
}

/// A message that asked for a check: its record label and SQS message index.
pub type Asking = (String, Option<usize>);

/// What a check led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checked {
    /// Completed or overdue: published, and no longer watched.
    Announced(Box<CompletionEvent>),
    /// Still in progress: checked again after this delay.
    CheckAgain(Duration),
}

/// Why a check did not finish; its messages come back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckFailure {
    #[error("GetInvalidation failed: {0}")]
    Check(SendError),
    #[error(transparent)]
    Publish(PublishError),
    #[error("the next check could not be queued: {0}")]
    Queue(QueueError),
}

impl CheckFailure {
    /// Whether the same check may go through later.
    pub fn is_retryable(&self) -> bool {
        match self {
            CheckFailure::Check(error) => error.is_retryable(),
            CheckFailure::Publish(_) | CheckFailure::Queue(_) => true,
        }
    }
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
    /// The completion checks made.
    pub checks: Vec<Check>,
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
    /// Its invalidation was made, but the completion check could not be queued.
    Unwatched {
        caller_reference: String,
        error: QueueError,
    },
    /// The completion check it asked for did not finish.
    Unchecked {
        invalidation_id: String,
        failure: CheckFailure,
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
            FailureReason::Unwatched {
                caller_reference,
                error,
            } => write!(
                f,
                "invalidation {caller_reference} was made, but its completion check was not queued: {error}"
            ),
            FailureReason::Unchecked {
                invalidation_id,
                failure,
            } => write!(
                f,
                "completion check of invalidation {invalidation_id}: {failure}"
            ),
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

    /// Requests CloudFront accepted (or had accepted before), with its answer.
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

    /// Invalidations made whose completion check could not be queued.
    pub fn unwatched(&self) -> impl Iterator<Item = (&Invalidation, &QueueError)> {
        self.deliveries
            .iter()
            .filter_map(|d| Some((&d.invalidation, d.unwatched.as_ref()?)))
    }

    /// The unwatched invalidations whose changes fail: only outside an SQS batch.
    fn unwatched_failing(&self) -> impl Iterator<Item = (&Invalidation, &QueueError)> {
        self.unwatched().filter(|_| self.sqs_message_ids.is_none())
    }

    /// Checks that did not finish.
    pub fn failed_checks(&self) -> impl Iterator<Item = (&Check, &CheckFailure)> {
        self.checks
            .iter()
            .filter_map(|check| Some((check, check.result.as_ref().err()?)))
    }

    /// Events published.
    pub fn announced(&self) -> impl Iterator<Item = &CompletionEvent> {
        self.checks.iter().filter_map(|check| match &check.result {
            Ok(Checked::Announced(event)) => Some(event.as_ref()),
            _ => None,
        })
    }

    /// How the invocation ended: a retryable failure outweighs a permanent one.
    pub fn verdict(&self) -> Verdict {
        if self.errors().any(|(_, e)| e.is_retryable())
            || self.unwatched_failing().next().is_some()
            || self.failed_checks().any(|(_, f)| f.is_retryable())
        {
            Verdict::RetryLater
        } else if self.errors().next().is_some()
            || !self.plan.rejected.is_empty()
            || self.failed_checks().next().is_some()
        {
            Verdict::Failed
        } else {
            Verdict::Ok
        }
    }

    /// Indices of SQS messages that must come back: their input was bad, their invalidation
    /// was not created or its check not queued, or the check they asked for did not finish.
    pub fn failed_messages(&self) -> BTreeSet<usize> {
        let rejected = self.plan.rejected.iter().filter_map(|r| r.message_index);
        let unfinished = self
            .errors()
            .map(|(invalidation, _)| invalidation)
            .chain(
                self.unwatched_failing()
                    .map(|(invalidation, _)| invalidation),
            )
            .flat_map(|invalidation| {
                invalidation
                    .changes()
                    .into_iter()
                    .filter_map(|i| self.changes[i].message_index)
            });
        let unchecked = self
            .failed_checks()
            .flat_map(|(check, _)| check.asked.iter().filter_map(|(_, index)| *index));
        rejected.chain(unfinished).chain(unchecked).collect()
    }

    /// Every record that was not invalidated (or checked), with its reason.
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
        let unwatched = self.unwatched_failing().flat_map(|(invalidation, error)| {
            invalidation.changes().into_iter().map(move |i| Failure {
                record: self.changes[i].record.clone(),
                reason: FailureReason::Unwatched {
                    caller_reference: invalidation.caller_reference.clone(),
                    error: error.clone(),
                },
            })
        });
        let unchecked = self.failed_checks().flat_map(|(check, failure)| {
            check.asked.iter().map(move |(record, _)| Failure {
                record: record.clone(),
                reason: FailureReason::Unchecked {
                    invalidation_id: check.watch.invalidation_id.clone(),
                    failure: failure.clone(),
                },
            })
        });
        rejected
            .chain(unsent)
            .chain(unwatched)
            .chain(unchecked)
            .collect()
    }
}
