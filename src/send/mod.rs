//! Sends planned invalidations and checks on them (CreateInvalidation, GetInvalidation)
//! through a small trait, retrying inside the deadline. The trait's AWS SDK implementation,
//! and how it reads CloudFront's answers, is in [`CloudFront`].

mod cloudfront;

use std::future::Future;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

pub use cloudfront::{CloudFront, ListedDistribution, ListedOrigin, https_client, one_line};

use crate::plan::{Destination, Invalidation};

/// What CloudFront answered for a created (or, for a repeated reference, earlier) invalidation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// `None` when CloudFront said the batch exists without saying which it is.
    pub id: Option<String>,
    pub status: Option<String>,
    /// CloudFront returned an invalidation it made before: the CallerReference was seen.
    pub reused: bool,
    /// CloudFront's CreateTime, when it named the invalidation.
    pub created_at: Option<SystemTime>,
}

impl Receipt {
    /// The answer to a CallerReference CloudFront has seen, when it names no invalidation.
    /// A reference is a hash of its changes and paths, so the batch already exists.
    pub(crate) fn already_exists() -> Receipt {
        Receipt {
            id: None,
            status: None,
            reused: true,
            created_at: None,
        }
    }
}

/// Where an invalidation stands, as GetInvalidation reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// CloudFront is still invalidating.
    InProgress,
    /// Every edge location has dropped the paths.
    Completed,
}

/// Why a request was not accepted; each says what it means for the operator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error(
        "distribution {distribution_id} does not exist (NoSuchDistribution): check DISTRIBUTION_ID or ROUTES"
    )]
    NoSuchDistribution { distribution_id: String },
    /// `resource` is the ARN's last part (`distribution/ID`), `action` the permission missing.
    #[error(
        "distribution tenant {tenant_id} does not exist (EntityNotFound): check TENANT_ID or ROUTES"
    )]
    NoSuchTenant { tenant_id: String },
    /// The caller may not invalidate: `who` needs `action` on `resource`.
    #[error(
        "access denied on {target} (AccessDenied): {who} needs {action} on arn:aws:cloudfront::ACCOUNT_ID:{resource}"
    )]
    AccessDenied {
        target: String,
        who: String,
        action: &'static str,
        resource: String,
    },
    /// STS refused the role (its trust policy, or the external id).
    #[error(
        "STS refused to assume role {role_arn} ({message}): its trust policy must allow the function's role, with the external id if it asks for one (README, Cross-account)"
    )]
    RoleRefused { role_arn: String, message: String },
    #[error("invalidation {invalidation_id} does not exist (NoSuchInvalidation)")]
    NoSuchInvalidation { invalidation_id: String },
    #[error(
        "too many invalidations in progress on the distribution (TooManyInvalidationsInProgress)"
    )]
    TooManyInProgress,
    #[error("CloudFront is throttling requests ({0})")]
    Throttled(String),
    #[error("CloudFront is unavailable ({0})")]
    Unavailable(String),
    #[error("could not reach CloudFront or read its answer ({0})")]
    Transport(String),
    #[error("no answer from CloudFront before the invocation's deadline")]
    DeadlineReached,
    #[error(
        "Quantity does not match the number of paths (InconsistentQuantities): a bug, please report it"
    )]
    InconsistentQuantities,
    #[error(
        "more paths than CloudFront accepts in one request (BatchTooLarge): a bug, please report it"
    )]
    BatchTooLarge,
    #[error("request had no invalidation batch (MissingBody): a bug, please report it")]
    MissingBody,
    /// CloudFront refuses a whole request for one path it dislikes.
    #[error("CloudFront refused the paths (InvalidArgument): {0}")]
    InvalidPaths(String),
    #[error("CloudFront refused the request: {0}")]
    Other(String),
}

impl SendError {
    /// Whether CloudFront certainly did not act, so the paths can be sent later in another
    /// request (with another reference) without billing them twice.
    pub fn is_deferrable(&self) -> bool {
        matches!(self, SendError::TooManyInProgress | SendError::Throttled(_))
    }

    /// Whether the same request may succeed later: CloudFront dedupes by CallerReference,
    /// so repeating it is always safe; only these can change their answer.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            SendError::TooManyInProgress
                | SendError::Throttled(_)
                | SendError::Unavailable(_)
                | SendError::Transport(_)
                | SendError::DeadlineReached
        )
    }
}

/// The CloudFront calls the function makes: CreateInvalidation for the request's
/// distribution, or CreateInvalidationForDistributionTenant for its tenant, and GetInvalidation
/// to check on one, with the function's credentials or through the request's role.
pub trait Invalidator: Sync {
    /// CreateInvalidation: a new invalidation, or the one made before with this reference.
    fn create_invalidation(
        &self,
        invalidation: &Invalidation,
    ) -> impl Future<Output = Result<Receipt, SendError>> + Send;

    /// GetInvalidation (GetInvalidationForDistributionTenant with a tenant): where an
    /// invalidation stands and what CloudFront says it holds, which is what a completion
    /// event reports, rather than what the message asking for the check claims.
    fn get_invalidation(
        &self,
        destination: Destination<'_>,
        invalidation_id: &str,
    ) -> impl Future<Output = Result<Described, SendError>> + Send;
}

/// GetInvalidation's answer: where the invalidation stands and, from CloudFront's own record
/// of it, what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Described {
    pub progress: Progress,
    /// `None` when the answer held no batch.
    pub facts: Option<Facts>,
}

/// What CloudFront recorded of an invalidation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// CreateTime.
    pub created_at: Option<SystemTime>,
    pub caller_reference: String,
    /// Paths the batch holds: what was billed.
    pub paths: usize,
}

/// Exponential backoff with jitter, bounded by the deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            first: Duration::from_millis(250),
            max: Duration::from_secs(8),
        }
    }
}

impl Backoff {
    /// "Equal jitter": half the exponential delay, plus a random part of the other half, so
    /// concurrent invocations spread out but never retry immediately.
    fn delay(&self, retry: u32) -> Duration {
        let exponential = self.first.saturating_mul(1 << retry.min(16)).min(self.max);
        let half = exponential / 2;
        half + half.mul_f64(fastrand::f64())
    }
}

/// How one request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    pub result: Result<Receipt, SendError>,
    /// Requests made, the first included.
    pub attempts: u32,
    /// Retryable answers seen along the way, in order.
    pub retried_after: Vec<SendError>,
}

/// Calls `call` until it answers for good or the next attempt would start past `deadline`
/// (a call cut by the deadline answers `SendError::DeadlineReached`); `retry` says which errors
/// may go away, and `on_retry` hears of each retry before its wait.
async fn retrying<T, F: Future<Output = Result<T, SendError>>>(
    mut call: impl FnMut() -> F,
    deadline: Instant,
    backoff: Backoff,
    retry: impl Fn(&SendError) -> bool,
    on_retry: impl Fn(u32, &SendError),
) -> (Result<T, SendError>, u32, Vec<SendError>) {
    let mut retried_after = Vec::new();
    let mut attempts = 0;
    loop {
        attempts += 1;
        let result = match tokio::time::timeout_at(deadline, call()).await {
            Ok(result) => result,
            Err(_) => Err(SendError::DeadlineReached),
        };
        let error = match result {
            Err(error) if retry(&error) => error,
            result => return (result, attempts, retried_after),
        };
        let wake = Instant::now() + backoff.delay(attempts - 1);
        if wake >= deadline {
            return (Err(error), attempts, retried_after);
        }
        on_retry(attempts, &error);
        retried_after.push(error);
        tokio::time::sleep_until(wake).await;
    }
}

/// Sends one invalidation, retrying what can succeed later until `deadline`, always with
/// the same CallerReference and paths. With `defer_busy`, `TooManyInvalidationsInProgress`
/// ends the attempts at once: CloudFront completes invalidations in minutes, so waiting
/// inside the invocation rarely helps, and the caller defers the paths instead.
pub async fn send(
    invalidator: &impl Invalidator,
    invalidation: &Invalidation,
    deadline: Instant,
    backoff: Backoff,
    defer_busy: bool,
) -> Sent {
    let (result, attempts, retried_after) = retrying(
        || invalidator.create_invalidation(invalidation),
        deadline,
        backoff,
        |error| error.is_retryable() && !(defer_busy && *error == SendError::TooManyInProgress),
        |attempt, error| {
            tracing::warn!(
                caller_reference = %invalidation.caller_reference,
                attempt,
                error = %error,
                "retrying CreateInvalidation"
            )
        },
    )
    .await;
    Sent {
        result,
        attempts,
        retried_after,
    }
}

/// Asks where an invalidation stands, retrying what can succeed later until `deadline`.
pub async fn check(
    invalidator: &impl Invalidator,
    destination: Destination<'_>,
    invalidation_id: &str,
    deadline: Instant,
    backoff: Backoff,
) -> Result<Described, SendError> {
    retrying(
        || invalidator.get_invalidation(destination, invalidation_id),
        deadline,
        backoff,
        SendError::is_retryable,
        |attempt, error| {
            tracing::warn!(
                invalidation_id,
                attempt,
                error = %error,
                "retrying GetInvalidation"
            )
        },
    )
    .await
    .0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Answers from a script, recording every request.
    struct Scripted {
        answers: Mutex<Vec<Result<Receipt, SendError>>>,
        calls: Mutex<Vec<(String, Vec<String>)>>,
    }

    impl Invalidator for Scripted {
        async fn create_invalidation(
            &self,
            invalidation: &Invalidation,
        ) -> Result<Receipt, SendError> {
            self.calls.lock().unwrap().push((
                invalidation.caller_reference.clone(),
                invalidation.paths.clone(),
            ));
            self.answers.lock().unwrap().remove(0)
        }

        async fn get_invalidation(
            &self,
            _destination: Destination<'_>,
            invalidation_id: &str,
        ) -> Result<Described, SendError> {
            self.calls
                .lock()
                .unwrap()
                .push((invalidation_id.into(), Vec::new()));
            self.answers
                .lock()
                .unwrap()
                .remove(0)
                .map(|receipt| Described {
                    progress: match receipt.status.as_deref() {
                        Some("Completed") => Progress::Completed,
                        _ => Progress::InProgress,
                    },
                    facts: None,
                })
        }
    }

    fn scripted(answers: Vec<Result<Receipt, SendError>>) -> Scripted {
        Scripted {
            answers: Mutex::new(answers),
            calls: Mutex::default(),
        }
    }

    fn invalidation() -> Invalidation {
        Invalidation {
            distribution_id: "E1".into(),
            tenant_id: None,
            role: None,
            caller_reference: "s3cfi-ref".into(),
            paths: vec!["/a".into()],
            covers: vec![Default::default()],
        }
    }

    fn receipt() -> Receipt {
        Receipt {
            id: Some("I1".into()),
            status: Some("InProgress".into()),
            reused: false,
            created_at: None,
        }
    }

    const E1: Destination<'static> = Destination {
        distribution_id: "E1",
        tenant_id: None,
        role: None,
    };

    const FAST: Backoff = Backoff {
        first: Duration::from_millis(1),
        max: Duration::from_millis(4),
    };

    #[tokio::test]
    async fn retries_transient_errors_with_the_same_reference() {
        let scripted = scripted(vec![
            Err(SendError::Throttled("Throttling".into())),
            Err(SendError::TooManyInProgress),
            Err(SendError::Unavailable("503".into())),
            Ok(receipt()),
        ]);
        let sent = send(
            &scripted,
            &invalidation(),
            Instant::now() + Duration::from_secs(5),
            FAST,
            false,
        )
        .await;
        assert_eq!(sent.result, Ok(receipt()));
        assert_eq!(sent.attempts, 4);
        let calls = scripted.calls.lock().unwrap();
        assert!(
            calls
                .iter()
                .all(|call| call == &("s3cfi-ref".to_string(), vec!["/a".to_string()]))
        );
    }

    #[tokio::test]
    async fn checks_retry_what_may_go_away_and_nothing_else() {
        let completed = Receipt {
            status: Some("Completed".into()),
            ..receipt()
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        let throttled = scripted(vec![
            Err(SendError::Throttled("Throttling".into())),
            Ok(completed),
        ]);
        let progress = check(&throttled, E1, "I1", deadline, FAST).await;
        assert_eq!(
            progress.map(|described| described.progress),
            Ok(Progress::Completed)
        );
        assert_eq!(throttled.calls.lock().unwrap().len(), 2);
        let gone = scripted(vec![Err(SendError::NoSuchInvalidation {
            invalidation_id: "I1".into(),
        })]);
        let progress = check(&gone, E1, "I1", deadline, FAST).await;
        assert!(matches!(
            progress,
            Err(SendError::NoSuchInvalidation { .. })
        ));
        assert_eq!(gone.calls.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn permanent_errors_are_not_retried() {
        let scripted = scripted(vec![Err(SendError::NoSuchDistribution {
            distribution_id: "E1".into(),
        })]);
        let sent = send(
            &scripted,
            &invalidation(),
            Instant::now() + Duration::from_secs(5),
            FAST,
            false,
        )
        .await;
        assert_eq!(sent.attempts, 1);
        assert!(!sent.result.unwrap_err().is_retryable());
    }

    // Paused time: the clock only moves when every task waits, so scheduler delays on a
    // loaded machine cannot blur what the deadline allows.
    #[tokio::test(start_paused = true)]
    async fn gives_up_before_the_deadline() {
        let scripted = scripted(
            (0..1000)
                .map(|_| Err(SendError::TooManyInProgress))
                .collect(),
        );
        let slow = Backoff {
            first: Duration::from_millis(40),
            max: Duration::from_millis(40),
        };
        let start = Instant::now();
        let sent = send(
            &scripted,
            &invalidation(),
            start + Duration::from_millis(100),
            slow,
            false,
        )
        .await;
        assert_eq!(sent.result, Err(SendError::TooManyInProgress));
        // Never past the deadline; tokio's timer rounds a sleep up to the next millisecond,
        // so the last wake may land on it exactly.
        assert!(
            start.elapsed() <= Duration::from_millis(100),
            "{:?}",
            start.elapsed()
        );
        assert!(sent.attempts >= 2);
    }

    #[test]
    fn backoff_grows_and_stays_capped() {
        let backoff = Backoff::default();
        for retry in 0..30 {
            let delay = backoff.delay(retry);
            let exponential = (backoff.first * 2u32.pow(retry.min(16))).min(backoff.max);
            assert!(
                delay >= exponential / 2 && delay <= exponential,
                "{retry}: {delay:?}"
            );
        }
    }
}
