//! CloudFront through the AWS SDK: the HTTPS client, the requests, and what each answer means.

use std::sync::OnceLock;

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

use super::{Invalidator, Progress, Receipt, SendError};

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
    /// A client with the SDK's own retries off: [`super::send`] retries, bounded by the deadline.
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
            created_at: std::time::SystemTime::try_from(*invalidation.create_time()).ok(),
        })
    }

    async fn get_invalidation(
        &self,
        distribution_id: &str,
        tenant_id: Option<&str>,
        invalidation_id: &str,
    ) -> Result<Progress, SendError> {
        let asked = Asked {
            distribution_id,
            tenant_id,
            invalidation_id,
        };
        let status = match tenant_id {
            None => self
                .client
                .get_invalidation()
                .distribution_id(distribution_id)
                .id(invalidation_id)
                .send()
                .await
                .map(|output| output.invalidation().map(|i| i.status().to_owned()))
                .map_err(|error| classify_check(error, &asked))?,
            Some(tenant) => self
                .client
                .get_invalidation_for_distribution_tenant()
                .distribution_tenant_id(tenant)
                .id(invalidation_id)
                .send()
                .await
                .map(|output| output.invalidation().map(|i| i.status().to_owned()))
                .map_err(|error| classify_check(error, &asked))?,
        };
        // As with CreateInvalidation, trust only an answer that says something. CloudFront
        // writes `Completed`; emulators (moto) write `COMPLETED`.
        match status.as_deref() {
            Some(status) if status.eq_ignore_ascii_case("Completed") => Ok(Progress::Completed),
            Some(status) if !status.is_empty() => Ok(Progress::InProgress),
            _ => Err(SendError::Transport(
                "incomplete GetInvalidation answer".into(),
            )),
        }
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

/// The service's error inside an SDK error, and whether its status was a 5xx; or what a
/// failure to get an answer at all means.
fn service_error<E>(error: SdkError<E, HttpResponse>) -> Result<(E, bool), SendError> {
    let server_error = error
        .raw_response()
        .is_some_and(|raw| raw.status().is_server_error());
    match error {
        SdkError::ServiceError(service) => Ok((service.into_err(), server_error)),
        SdkError::TimeoutError(_) => Err(SendError::Transport("timed out".into())),
        SdkError::DispatchFailure(e) => Err(SendError::Transport(format!("{e:?}"))),
        SdkError::ResponseError(e) => Err(SendError::Transport(format!("{e:?}"))),
        other => Err(SendError::Other(other.to_string())),
    }
}

/// What an error code means when no rule of the operation's own claims it.
fn generic(code: &str, message: &str, server_error: bool) -> SendError {
    match code {
        // An answer without an error code is one the SDK could not read (a 2xx body that is
        // not XML, say): CloudFront may well have acted, and repeating is free.
        "" => SendError::Transport("unreadable answer from CloudFront".into()),
        _ if code.contains("Throttl") || code == "RequestLimitExceeded" => {
            SendError::Throttled(format!("{code}: {message}"))
        }
        "ServiceUnavailable" | "InternalError" | "InternalFailure" => {
            SendError::Unavailable(format!("{code}: {message}"))
        }
        _ if server_error => SendError::Unavailable(format!("{code}: {message}")),
        _ => SendError::Other(format!("{code}: {message}")),
    }
}

/// What an error answer means. A reused CallerReference is answered in two ways: the
/// documented `InvalidationBatchAlreadyExists`, and the `InvalidArgument` users of other tools
/// report even for an unchanged batch (jonls/s3-deploy-website#26, aws/aws-cdk#3878). Our
/// references are hashes of their paths, so both mean the batch exists: a receipt.
fn classify(
    error: SdkError<CreateInvalidationError, HttpResponse>,
    distribution_id: &str,
) -> Result<Receipt, SendError> {
    let (service, server_error) = service_error(error)?;
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
            action: "cloudfront:CreateInvalidation",
            resource: format!("distribution/{distribution_id}"),
        },
        CreateInvalidationError::TooManyInvalidationsInProgress(_) => SendError::TooManyInProgress,
        CreateInvalidationError::BatchTooLarge(_) => SendError::BatchTooLarge,
        CreateInvalidationError::InconsistentQuantities(_) => SendError::InconsistentQuantities,
        CreateInvalidationError::MissingBody(_) => SendError::MissingBody,
        CreateInvalidationError::InvalidArgument(_) => SendError::InvalidPaths(message),
        _ => generic(&code, &message, server_error),
    })
}

/// The invalidation a GetInvalidation asked for.
struct Asked<'a> {
    distribution_id: &'a str,
    tenant_id: Option<&'a str>,
    invalidation_id: &'a str,
}

/// What an error answer to GetInvalidation (or its tenant form, whose errors are typed
/// apart) means, by its code.
fn classify_check<E: ProvideErrorMetadata>(
    error: SdkError<E, HttpResponse>,
    asked: &Asked,
) -> SendError {
    let (service, server_error) = match service_error(error) {
        Ok(service) => service,
        Err(error) => return error,
    };
    let code = service.code().unwrap_or_default();
    let message = service.message().unwrap_or_default();
    match (code, asked.tenant_id) {
        ("NoSuchInvalidation", _) => SendError::NoSuchInvalidation {
            invalidation_id: asked.invalidation_id.to_owned(),
        },
        ("NoSuchDistribution", _) => SendError::NoSuchDistribution {
            distribution_id: asked.distribution_id.to_owned(),
        },
        ("AccessDenied", None) => SendError::AccessDenied {
            action: "cloudfront:GetInvalidation",
            resource: format!("distribution/{}", asked.distribution_id),
        },
        ("AccessDenied", Some(tenant)) => SendError::AccessDenied {
            action: "cloudfront:GetInvalidationForDistributionTenant",
            resource: format!("distribution-tenant/{tenant}"),
        },
        _ => generic(code, message, server_error),
    }
}

/// CloudFront's field message: "Your request contains a caller reference that was used for
/// a previous invalidation batch for the same distribution."
fn is_reused_reference(message: &str) -> bool {
    message.to_ascii_lowercase().contains("caller reference")
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_cloudfront::error::ErrorMetadata;
    use aws_sdk_cloudfront::types::error::{
        AccessDenied, InvalidArgument, NoSuchDistribution, TooManyInvalidationsInProgress,
    };
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;

    fn meta(code: &str, message: &str) -> ErrorMetadata {
        ErrorMetadata::builder().code(code).message(message).build()
    }

    fn answer(status: u16, error: CreateInvalidationError) -> Result<Receipt, SendError> {
        let raw = HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::empty());
        classify(SdkError::service_error(error, raw), "E1")
    }

    fn generic(status: u16, code: &str, message: &str) -> Result<Receipt, SendError> {
        answer(
            status,
            CreateInvalidationError::generic(meta(code, message)),
        )
    }

    #[test]
    fn reused_references_are_receipts_whichever_way_cloudfront_says_it() {
        let field = CreateInvalidationError::InvalidArgument(
            InvalidArgument::builder()
                .message("Your request contains a caller reference that was used for a previous invalidation batch for the same distribution.")
                .meta(meta("InvalidArgument", "Your request contains a caller reference that was used for a previous invalidation batch for the same distribution."))
                .build(),
        );
        assert_eq!(answer(400, field), Ok(Receipt::already_exists()));
        assert_eq!(
            generic(400, "InvalidationBatchAlreadyExists", "used before"),
            Ok(Receipt::already_exists())
        );
    }

    #[test]
    fn a_failed_check_names_what_it_asked_for() {
        use aws_sdk_cloudfront::operation::get_invalidation::GetInvalidationError;
        let check = |status: u16, code: &str, tenant_id: Option<&str>| {
            let raw = HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::empty());
            let error = GetInvalidationError::generic(meta(code, "said so"));
            let asked = Asked {
                distribution_id: "E1",
                tenant_id,
                invalidation_id: "I1",
            };
            classify_check(SdkError::service_error(error, raw), &asked)
        };
        assert_eq!(
            check(404, "NoSuchInvalidation", None),
            SendError::NoSuchInvalidation {
                invalidation_id: "I1".into()
            }
        );
        assert_eq!(
            check(404, "NoSuchDistribution", None),
            SendError::NoSuchDistribution {
                distribution_id: "E1".into()
            }
        );
        let denied = check(403, "AccessDenied", None).to_string();
        assert!(
            denied.ends_with(
                "needs cloudfront:GetInvalidation on arn:aws:cloudfront::ACCOUNT_ID:distribution/E1"
            ),
            "{denied}"
        );
        let denied = check(403, "AccessDenied", Some("dt_1")).to_string();
        assert!(
            denied.ends_with("needs cloudfront:GetInvalidationForDistributionTenant on arn:aws:cloudfront::ACCOUNT_ID:distribution-tenant/dt_1"),
            "{denied}"
        );
        assert!(matches!(
            check(400, "Throttling", None),
            SendError::Throttled(_)
        ));
        assert!(matches!(
            check(500, "Whatever", None),
            SendError::Unavailable(_)
        ));
    }

    #[test]
    fn each_refusal_has_its_own_meaning() {
        let paths = CreateInvalidationError::InvalidArgument(
            InvalidArgument::builder()
                .message("Your request contains one or more invalid invalidation paths.")
                .meta(meta(
                    "InvalidArgument",
                    "Your request contains one or more invalid invalidation paths.",
                ))
                .build(),
        );
        assert_eq!(
            answer(400, paths),
            Err(SendError::InvalidPaths(
                "Your request contains one or more invalid invalidation paths.".into()
            ))
        );
        let missing = CreateInvalidationError::NoSuchDistribution(
            NoSuchDistribution::builder()
                .meta(meta("NoSuchDistribution", ""))
                .build(),
        );
        assert!(matches!(
            answer(404, missing),
            Err(SendError::NoSuchDistribution { distribution_id }) if distribution_id == "E1"
        ));
        let denied = CreateInvalidationError::AccessDenied(
            AccessDenied::builder()
                .meta(meta("AccessDenied", ""))
                .build(),
        );
        assert!(matches!(
            answer(403, denied),
            Err(SendError::AccessDenied { .. })
        ));
        let busy = CreateInvalidationError::TooManyInvalidationsInProgress(
            TooManyInvalidationsInProgress::builder()
                .meta(meta("TooManyInvalidationsInProgress", ""))
                .build(),
        );
        assert_eq!(answer(400, busy), Err(SendError::TooManyInProgress));
        assert!(matches!(
            generic(400, "Throttling", "Rate exceeded"),
            Err(SendError::Throttled(m)) if m == "Throttling: Rate exceeded"
        ));
        assert!(matches!(
            generic(503, "ServiceUnavailable", "try later"),
            Err(SendError::Unavailable(_))
        ));
        assert!(matches!(
            generic(502, "Whatever", ""),
            Err(SendError::Unavailable(_))
        ));
        assert!(matches!(generic(400, "", ""), Err(SendError::Transport(_))));
        assert!(
            matches!(generic(400, "Novel", "new"), Err(SendError::Other(m)) if m == "Novel: new")
        );
    }
}
