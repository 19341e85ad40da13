//! Sends planned invalidations through a small trait, retrying inside the deadline.

use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_config::retry::RetryConfig;
use aws_sdk_cloudfront::Client;
use aws_sdk_cloudfront::config::http::HttpResponse;
use aws_sdk_cloudfront::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_cloudfront::operation::create_invalidation::CreateInvalidationError;
use aws_sdk_cloudfront::types::{InvalidationBatch, Paths};
use aws_smithy_http_client::tls;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use tokio::time::Instant;

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
    fn already_exists() -> Receipt {
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
        "access denied on distribution {distribution_id} (AccessDenied): the function's role needs cloudfront:CreateInvalidation on arn:aws:cloudfront::ACCOUNT_ID:distribution/{distribution_id}"
    )]
    AccessDenied { distribution_id: String },
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

/// The one remote call the function makes.
pub trait Invalidator {
    fn create_invalidation(
        &self,
        distribution_id: &str,
        caller_reference: &str,
        paths: &[String],
    ) -> impl Future<Output = Result<Receipt, SendError>> + Send;
}

/// The HTTPS client for the SDK: rustls with ring, certificates from the system store,
/// built on the first request rather than at start-up.
pub fn https_client() -> SharedHttpClient {
    SharedHttpClient::new(LazyHttpsClient::default())
}

/// Reading the system's root certificates is most of a cold start when done eagerly
/// (hundreds of files); deferring it to the first request, which needs TLS anyway, keeps
/// init to the runtime's own few milliseconds.
#[derive(Debug, Default)]
struct LazyHttpsClient {
    client: OnceLock<SharedHttpClient>,
}

impl HttpClient for LazyHttpsClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.client
            .get_or_init(|| {
                aws_smithy_http_client::Builder::new()
                    .tls_provider(tls::Provider::Rustls(
                        tls::rustls_provider::CryptoMode::Ring,
                    ))
                    .build_https()
            })
            .http_connector(settings, components)
    }
}

/// CloudFront through the AWS SDK.
#[derive(Debug, Clone)]
pub struct CloudFront {
    client: Client,
}

impl CloudFront {
    /// A client with the SDK's own retries off: [`send`] retries, bounded by the deadline.
    pub fn new(sdk_config: &SdkConfig) -> Self {
        let config = aws_sdk_cloudfront::config::Builder::from(sdk_config)
            .retry_config(RetryConfig::disabled())
            .build();
        CloudFront {
            client: Client::from_conf(config),
        }
    }
}

impl Invalidator for CloudFront {
    async fn create_invalidation(
        &self,
        distribution_id: &str,
        caller_reference: &str,
        paths: &[String],
    ) -> Result<Receipt, SendError> {
        let quantity = i32::try_from(paths.len()).map_err(|_| SendError::BatchTooLarge)?;
        let batch = Paths::builder()
            .quantity(quantity)
            .set_items(Some(paths.to_vec()))
            .build()
            .and_then(|paths| {
                InvalidationBatch::builder()
                    .paths(paths)
                    .caller_reference(caller_reference)
                    .build()
            })
            .map_err(|e| SendError::Other(e.to_string()))?;
        let requested = std::time::SystemTime::now();
        let output = self
            .client
            .create_invalidation()
            .distribution_id(distribution_id)
            .invalidation_batch(batch)
            .send()
            .await;
        let output = match output {
            Ok(output) => output,
            Err(error) => return classify(error, distribution_id),
        };
        // The SDK's XML reader is lenient: a truncated answer can parse into a half-empty
        // Invalidation. Trust only an answer that echoes our batch back.
        let invalidation = output
            .invalidation()
            .filter(|i| !i.id().is_empty() && !i.status().is_empty())
            .filter(|i| {
                i.invalidation_batch().map(|b| b.caller_reference()) == Some(caller_reference)
            })
            .ok_or_else(|| SendError::Transport("incomplete CreateInvalidation answer".into()))?;
        Ok(Receipt {
            id: Some(invalidation.id().to_owned()),
            status: Some(invalidation.status().to_owned()),
            reused: created_before(invalidation.create_time(), requested),
        })
    }
}

/// CloudFront answers a repeated CallerReference with the earlier invalidation, which says
/// when it was made; a few seconds of slack absorb clock skew.
fn created_before(
    create_time: &aws_sdk_cloudfront::primitives::DateTime,
    requested: std::time::SystemTime,
) -> bool {
    const SKEW_SECONDS: f64 = 5.0;
    let requested = aws_sdk_cloudfront::primitives::DateTime::from(requested);
    create_time.as_secs_f64() + SKEW_SECONDS < requested.as_secs_f64()
}

/// What an error answer means. A reused CallerReference is answered in two ways: the
/// documented `InvalidationBatchAlreadyExists`, and the `InvalidArgument` users of other tools
/// report even for an unchanged batch (jonls/s3-deploy-website#26, aws/aws-cdk#3878). Our
/// references are hashes of their paths, so both mean the batch exists: a receipt.
fn classify(
    error: SdkError<CreateInvalidationError, HttpResponse>,
    distribution_id: &str,
) -> Result<Receipt, SendError> {
    let server_error = error
        .raw_response()
        .is_some_and(|raw| raw.status().is_server_error());
    let service = match error {
        SdkError::ServiceError(service) => service.into_err(),
        SdkError::TimeoutError(_) => return Err(SendError::Transport("timed out".into())),
        SdkError::DispatchFailure(e) => return Err(SendError::Transport(format!("{e:?}"))),
        SdkError::ResponseError(e) => return Err(SendError::Transport(format!("{e:?}"))),
        other => return Err(SendError::Other(other.to_string())),
    };
    let code = service.code().unwrap_or_default().to_owned();
    let message = service.message().unwrap_or_default().to_owned();
    Err(match service {
        CreateInvalidationError::InvalidArgument(_) if is_reused_reference(&message) => {
            return Ok(Receipt::already_exists());
        }
        _ if code == "InvalidationBatchAlreadyExists" => return Ok(Receipt::already_exists()),
        CreateInvalidationError::NoSuchDistribution(_) => SendError::NoSuchDistribution {
            distribution_id: distribution_id.to_owned(),
        },
        CreateInvalidationError::AccessDenied(_) => SendError::AccessDenied {
            distribution_id: distribution_id.to_owned(),
        },
        CreateInvalidationError::TooManyInvalidationsInProgress(_) => SendError::TooManyInProgress,
        CreateInvalidationError::BatchTooLarge(_) => SendError::BatchTooLarge,
        CreateInvalidationError::InconsistentQuantities(_) => SendError::InconsistentQuantities,
        CreateInvalidationError::MissingBody(_) => SendError::MissingBody,
        CreateInvalidationError::InvalidArgument(_) => SendError::InvalidPaths(message),
        // An answer without an error code is one the SDK could not read (a 2xx body that is
        // not XML, say): CloudFront may well have acted, and repeating is free.
        _ if code.is_empty() => SendError::Transport("unreadable answer from CloudFront".into()),
        _ if code.contains("Throttl") || code == "RequestLimitExceeded" => {
            SendError::Throttled(format!("{code}: {message}"))
        }
        _ if code == "ServiceUnavailable"
            || code == "InternalError"
            || code == "InternalFailure"
            || server_error =>
        {
            SendError::Unavailable(format!("{code}: {message}"))
        }
        _ => SendError::Other(format!("{code}: {message}")),
    })
}

/// CloudFront's field message: "Your request contains a caller reference that was used for
/// a previous invalidation batch for the same distribution."
fn is_reused_reference(message: &str) -> bool {
    message.to_ascii_lowercase().contains("caller reference")
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
/// the same CallerReference and paths.
pub async fn send(
    invalidator: &impl Invalidator,
    invalidation: &Invalidation,
    deadline: Instant,
    backoff: Backoff,
) -> Sent {
    let mut retried_after = Vec::new();
    let mut attempts = 0;
    loop {
        attempts += 1;
        let call = invalidator.create_invalidation(
            &invalidation.distribution_id,
            &invalidation.caller_reference,
            &invalidation.paths,
        );
        let result = match tokio::time::timeout_at(deadline, call).await {
            Ok(result) => result,
            Err(_) => Err(SendError::DeadlineReached),
        };
        let error = match result {
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
            _distribution_id: &str,
            caller_reference: &str,
            paths: &[String],
        ) -> Result<Receipt, SendError> {
            self.calls
                .lock()
                .unwrap()
                .push((caller_reference.into(), paths.to_vec()));
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
        )
        .await;
        assert_eq!(sent.result, Err(SendError::TooManyInProgress));
        assert!(
            start.elapsed() < Duration::from_millis(100),
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
