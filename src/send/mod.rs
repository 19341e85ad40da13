//! Sends planned invalidations through a small trait, retrying inside the deadline. The
//! trait's AWS SDK implementation, and how it reads CloudFront's answers, is in
//! [`CloudFront`].

mod cloudfront;

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

pub use cloudfront::{CloudFront, ListedDistribution, ListedOrigin, https_client};

use crate::plan::Invalidation;

/// What CloudFront answered for a created (or, for a repeated reference, earlier) invalidation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// `None` when CloudFront said the batch exists without saying which it is.
    pub id: Option<String>,
    pub status: Option<String>,
    /// CloudFront returned an invalidation it made before: the CallerReference was seen.
    pub reused: bool,
}

impl Receipt {
    /// The answer to a CallerReference CloudFront has seen, when it names no invalidation.
    /// A reference is a hash of its changes and paths, so the batch already exists.
    pub(crate) fn already_exists() -> Receipt {
        Receipt {
            id: None,
            status: None,
            reused: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error(
        "distribution {distribution_id} does not exist (NoSuchDistribution): check DISTRIBUTION_ID or ROUTES"
    )]
    NoSuchDistribution { distribution_id: String },
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

/// The one remote call the function makes: CreateInvalidation for the request's
/// distribution, or CreateInvalidationForDistributionTenant for its tenant, with the
/// function's credentials or through the request's role.
pub trait Invalidator {
    fn create_invalidation(
        &self,
        invalidation: &Invalidation,
    ) -> impl Future<Output = Result<Receipt, SendError>> + Send;
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
    let mut retried_after = Vec::new();
    let mut attempts = 0;
    loop {
        attempts += 1;
        let call = invalidator.create_invalidation(invalidation);
        let result = match tokio::time::timeout_at(deadline, call).await {
            Ok(result) => result,
            Err(_) => Err(SendError::DeadlineReached),
        };
        let error = match result {
            Err(SendError::TooManyInProgress) if defer_busy => {
                return Sent {
                    result: Err(SendError::TooManyInProgress),
                    attempts,
                    retried_after,
                };
            }
            Err(error) if error.is_retryable() => error,
            result => {
                return Sent {
                    result,
                    attempts,
                    retried_after,
                };
            }
        };
        let wake = Instant::now() + backoff.delay(attempts - 1);
        if wake >= deadline {
            return Sent {
                result: Err(error),
                attempts,
                retried_after,
            };
        }
        tracing::warn!(
            caller_reference = %invalidation.caller_reference,
            attempt = attempts,
            error = %error,
            "retrying CreateInvalidation"
        );
        retried_after.push(error);
        tokio::time::sleep_until(wake).await;
    }
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
        }
    }

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
