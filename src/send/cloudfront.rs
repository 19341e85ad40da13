//! CloudFront through the AWS SDK: the HTTPS client, a client per role (credentials from STS),
//! the requests for a distribution or a tenant (CreateInvalidation, GetInvalidation), what
//! each answer means, and the listing of distributions that discovery reads.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock, PoisonError};

use aws_config::SdkConfig;
use aws_config::retry::RetryConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_sdk_cloudfront::Client;
use aws_sdk_cloudfront::config::SharedCredentialsProvider;
use aws_sdk_cloudfront::config::http::HttpResponse;
use aws_sdk_cloudfront::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_cloudfront::operation::create_invalidation::CreateInvalidationError;
use aws_sdk_cloudfront::operation::create_invalidation_for_distribution_tenant::CreateInvalidationForDistributionTenantError;
use aws_sdk_cloudfront::operation::list_distributions::ListDistributionsError;
use aws_sdk_cloudfront::types::{ConnectionMode, InvalidationBatch, Paths};
use aws_sdk_sts::operation::assume_role::AssumeRoleError;
use aws_smithy_async::time::SharedTimeSource;
use aws_smithy_http_client::tls;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;

use super::{Described, Facts, Invalidator, Progress, Receipt, SendError};
use crate::config::Role;
use crate::plan::{Destination, Invalidation};

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

/// An error and its sources in one line, each told once: `dispatch failure: io error: tcp
/// connect error: Connection refused (os error 111)`. The SDK's `DisplayErrorContext` adds
/// the whole `Debug` form (about a kilobyte) after the chain.
pub fn one_line(error: &(dyn std::error::Error + 'static)) -> String {
    let mut line = error.to_string();
    let mut source = error.source();
    while let Some(current) = source {
        let text = current.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = current.source();
    }
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The session name CloudTrail shows for the function's calls through a role.
const SESSION_NAME: &str = "s3-cloudfront-invalidator";

/// CloudFront through the AWS SDK: the function's own client, and one client per role it
/// assumes for distributions of other accounts.
#[derive(Debug)]
pub struct CloudFront {
    /// What role clients are built from; its credentials are the source of every role's.
    sdk_config: SdkConfig,
    own: Client,
    /// Built on first use; each caches its role's credentials until they expire.
    by_role: Mutex<HashMap<Role, Client>>,
}

impl CloudFront {
    /// Clients with the SDK's own retries off: [`super::send`] retries, bounded by the deadline.
    pub fn new(sdk_config: &SdkConfig) -> Self {
        // STS needs a clock to sign with; `aws_config::load` gives one, a hand-built config may not.
        let sdk_config = match sdk_config.time_source() {
            Some(_) => sdk_config.clone(),
            None => sdk_config
                .to_builder()
                .time_source(SharedTimeSource::default())
                .build(),
        };
        CloudFront {
            own: client(&sdk_config, None),
            sdk_config,
            by_role: Mutex::default(),
        }
    }

    /// The client for `role`, or the function's own. A role's client gets its credentials
    /// from STS AssumeRole, with the function's credentials as the source, and keeps them
    /// until they expire.
    async fn client_for(&self, role: Option<&Role>) -> Client {
        let Some(role) = role else {
            return self.own.clone();
        };
        if let Some(client) = self.clients().get(role) {
            return client.clone();
        }
        let mut provider = AssumeRoleProvider::builder(&role.arn)
            .session_name(SESSION_NAME)
            .configure(&self.sdk_config);
        if let Some(external_id) = &role.external_id {
            provider = provider.external_id(external_id);
        }
        let provider = SharedCredentialsProvider::new(provider.build().await);
        let built = client(&self.sdk_config, Some(provider));
        self.clients().entry(role.clone()).or_insert(built).clone()
    }

    fn clients(&self) -> std::sync::MutexGuard<'_, HashMap<Role, Client>> {
        // The map is always whole: a panic elsewhere cannot leave it half-written.
        self.by_role.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every distribution ListDistributions shows (through `role` when given), following its
    /// pages; `page_size` is CloudFront's default (100) when `None`. The error is one line.
    pub async fn list_distributions(
        &self,
        role: Option<&Role>,
        page_size: Option<i32>,
    ) -> Result<Vec<ListedDistribution>, String> {
        let client = self.client_for(role).await;
        let mut listed = Vec::new();
        let mut marker = None;
        loop {
            let page = client
                .list_distributions()
                .set_marker(marker.take())
                .set_max_items(page_size)
                .customize()
                // Start-up has no deadline to respect: the SDK's own retries are welcome.
                .config_override(
                    aws_sdk_cloudfront::config::Builder::default()
                        .retry_config(RetryConfig::standard()),
                )
                .send()
                .await
                .map_err(|error| list_error(error, role))?;
            let Some(list) = page.distribution_list() else {
                break;
            };
            listed.extend(list.items().iter().map(|summary| {
                ListedDistribution {
                    id: summary.id().to_owned(),
                    enabled: summary.enabled(),
                    staging: summary.staging(),
                    multi_tenant: summary.connection_mode() == Some(&ConnectionMode::TenantOnly),
                    origins: summary
                        .origins()
                        .map(|origins| origins.items())
                        .unwrap_or_default()
                        .iter()
                        .map(|origin| ListedOrigin {
                            domain_name: origin.domain_name().to_owned(),
                            origin_path: origin.origin_path().unwrap_or_default().to_owned(),
                        })
                        .collect(),
                }
            }));
            match list.next_marker() {
                Some(next) if list.is_truncated() && !next.is_empty() => {
                    marker = Some(next.to_owned())
                }
                _ => break,
            }
        }
        Ok(listed)
    }
}

/// A CloudFront client on `sdk_config`, with `credentials` instead of its own if given.
fn client(sdk_config: &SdkConfig, credentials: Option<SharedCredentialsProvider>) -> Client {
    let mut config =
        aws_sdk_cloudfront::config::Builder::from(sdk_config).retry_config(RetryConfig::disabled());
    if let Some(credentials) = credentials {
        config = config.credentials_provider(credentials);
    }
    Client::from_conf(config.build())
}

/// One distribution as ListDistributions describes it: what discovery needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedDistribution {
    pub id: String,
    /// A disabled distribution serves nothing, so nothing of it needs invalidating.
    pub enabled: bool,
    /// A continuous-deployment staging distribution.
    pub staging: bool,
    /// A multi-tenant distribution, invalidated through its tenants.
    pub multi_tenant: bool,
    pub origins: Vec<ListedOrigin>,
}

/// An origin of a listed distribution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedOrigin {
    /// Like `bucket.s3.us-east-1.amazonaws.com`.
    pub domain_name: String,
    /// Where in the origin requests go, like `/site`; empty for its root.
    pub origin_path: String,
}

/// Who makes the calls, for messages.
fn who(role: Option<&Role>) -> String {
    match role {
        Some(role) => format!("role {}", role.arn),
        None => "the function's role".to_owned(),
    }
}

fn list_error(
    error: SdkError<ListDistributionsError, HttpResponse>,
    role: Option<&Role>,
) -> String {
    if let Some(refused) = role.and_then(|role| assume_role_error(&error, role)) {
        return refused.to_string();
    }
    let code = error.code().unwrap_or_default().to_owned();
    if code == "AccessDenied" {
        return format!(
            "access denied (AccessDenied): {} needs cloudfront:ListDistributions (on *; the template grants it with DistributionId=auto)",
            who(role)
        );
    }
    let message = error.message().unwrap_or_default().to_owned();
    if code.is_empty() {
        one_line(&error)
    } else {
        format!("{code}: {message}")
    }
}

/// The invalidation batch the SDK sends for `invalidation`.
fn batch(invalidation: &Invalidation) -> Result<InvalidationBatch, SendError> {
    let quantity = i32::try_from(invalidation.paths.len()).map_err(|_| SendError::BatchTooLarge)?;
    Paths::builder()
        .quantity(quantity)
        .set_items(Some(invalidation.paths.clone()))
        .build()
        .and_then(|paths| {
            InvalidationBatch::builder()
                .paths(paths)
                .caller_reference(&invalidation.caller_reference)
                .build()
        })
        .map_err(|e| SendError::Other(e.to_string()))
}

impl Invalidator for CloudFront {
    async fn create_invalidation(&self, invalidation: &Invalidation) -> Result<Receipt, SendError> {
        let batch = batch(invalidation)?;
        let client = self.client_for(invalidation.role.as_ref()).await;
        let requested = std::time::SystemTime::now();
        let answer = match &invalidation.tenant_id {
            None => client
                .create_invalidation()
                .distribution_id(&invalidation.distribution_id)
                .invalidation_batch(batch)
                .send()
                .await
                .map(|output| output.invalidation)
                .map_err(|error| classify(error, named, invalidation)),
            Some(tenant_id) => client
                .create_invalidation_for_distribution_tenant()
                .id(tenant_id)
                .invalidation_batch(batch)
                .send()
                .await
                .map(|output| output.invalidation)
                .map_err(|error| classify(error, named_for_tenant, invalidation)),
        };
        let created = match answer {
            Ok(created) => created,
            Err(answer) => return answer,
        };
        // The SDK's XML reader is lenient: a truncated answer can parse into a half-empty
        // Invalidation. Trust only an answer that echoes our batch back.
        let created = created
            .filter(|i| !i.id().is_empty() && !i.status().is_empty())
            .filter(|i| {
                i.invalidation_batch().map(|b| b.caller_reference())
                    == Some(invalidation.caller_reference.as_str())
            })
            .ok_or_else(|| SendError::Transport("incomplete CreateInvalidation answer".into()))?;
        Ok(Receipt {
            id: Some(created.id().to_owned()),
            status: Some(created.status().to_owned()),
            reused: created_before(created.create_time(), requested),
            created_at: std::time::SystemTime::try_from(*created.create_time()).ok(),
        })
    }
    async fn get_invalidation(
        &self,
        destination: Destination<'_>,
        invalidation_id: &str,
    ) -> Result<Described, SendError> {
        let client = self.client_for(destination.role).await;
        let asked = Asked {
            destination,
            invalidation_id,
        };
        let found = match destination.tenant_id {
            None => client
                .get_invalidation()
                .distribution_id(destination.distribution_id)
                .id(invalidation_id)
                .send()
                .await
                .map(|output| output.invalidation)
                .map_err(|error| classify_check(error, &asked))?,
            Some(tenant) => client
                .get_invalidation_for_distribution_tenant()
                .distribution_tenant_id(tenant)
                .id(invalidation_id)
                .send()
                .await
                .map(|output| output.invalidation)
                .map_err(|error| classify_check(error, &asked))?,
        };
        let incomplete = || SendError::Transport("incomplete GetInvalidation answer".into());
        let found = found.ok_or_else(incomplete)?;
        // As with CreateInvalidation, trust only an answer that says something. CloudFront
        // writes `Completed`; emulators (moto) write `COMPLETED`.
        let progress = match found.status() {
            status if status.eq_ignore_ascii_case("Completed") => Progress::Completed,
            "" => return Err(incomplete()),
            _ => Progress::InProgress,
        };
        let facts = found.invalidation_batch().map(|batch| Facts {
            created_at: std::time::SystemTime::try_from(*found.create_time()).ok(),
            caller_reference: batch.caller_reference().to_owned(),
            paths: batch.paths().map_or(0, |paths| paths.items().len()),
        });
        Ok(Described { progress, facts })
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

/// The errors CloudFront names, alike for CreateInvalidation and its tenant variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Named {
    NotFound,
    AccessDenied,
    TooManyInProgress,
    BatchTooLarge,
    InconsistentQuantities,
    MissingBody,
    InvalidArgument,
    Unnamed,
}

fn named(error: &CreateInvalidationError) -> Named {
    match error {
        CreateInvalidationError::NoSuchDistribution(_) => Named::NotFound,
        CreateInvalidationError::AccessDenied(_) => Named::AccessDenied,
        CreateInvalidationError::TooManyInvalidationsInProgress(_) => Named::TooManyInProgress,
        CreateInvalidationError::BatchTooLarge(_) => Named::BatchTooLarge,
        CreateInvalidationError::InconsistentQuantities(_) => Named::InconsistentQuantities,
        CreateInvalidationError::MissingBody(_) => Named::MissingBody,
        CreateInvalidationError::InvalidArgument(_) => Named::InvalidArgument,
        _ => Named::Unnamed,
    }
}

fn named_for_tenant(error: &CreateInvalidationForDistributionTenantError) -> Named {
    use CreateInvalidationForDistributionTenantError as E;
    match error {
        E::EntityNotFound(_) => Named::NotFound,
        E::AccessDenied(_) => Named::AccessDenied,
        E::TooManyInvalidationsInProgress(_) => Named::TooManyInProgress,
        E::BatchTooLarge(_) => Named::BatchTooLarge,
        E::InconsistentQuantities(_) => Named::InconsistentQuantities,
        E::MissingBody(_) => Named::MissingBody,
        E::InvalidArgument(_) => Named::InvalidArgument,
        _ => Named::Unnamed,
    }
}

/// What an error answer means. A reused CallerReference is answered in two ways: the
/// documented `InvalidationBatchAlreadyExists`, and the `InvalidArgument` users of other tools
/// report even for an unchanged batch (jonls/s3-deploy-website#26, aws/aws-cdk#3878). Our
/// references are hashes of their paths, so both mean the batch exists: a receipt.
fn classify<E>(
    error: SdkError<E, HttpResponse>,
    named: fn(&E) -> Named,
    invalidation: &Invalidation,
) -> Result<Receipt, SendError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let (service, server_error) = service_error(error, invalidation.role.as_ref())?;
    let code = service.code().unwrap_or_default();
    let message = service.message().unwrap_or_default();
    Err(match named(&service) {
        Named::InvalidArgument if is_reused_reference(message) => {
            return Ok(Receipt::already_exists());
        }
        _ if code == "InvalidationBatchAlreadyExists" => return Ok(Receipt::already_exists()),
        Named::NotFound => match &invalidation.tenant_id {
            None => SendError::NoSuchDistribution {
                distribution_id: invalidation.distribution_id.clone(),
            },
            Some(tenant_id) => SendError::NoSuchTenant {
                tenant_id: tenant_id.clone(),
            },
        },
        Named::AccessDenied => access_denied(
            invalidation.destination(),
            "cloudfront:CreateInvalidation",
            "cloudfront:CreateInvalidationForDistributionTenant",
        ),
        Named::TooManyInProgress => SendError::TooManyInProgress,
        Named::BatchTooLarge => SendError::BatchTooLarge,
        Named::InconsistentQuantities => SendError::InconsistentQuantities,
        Named::MissingBody => SendError::MissingBody,
        Named::InvalidArgument => SendError::InvalidPaths(message.to_owned()),
        Named::Unnamed => generic(code, message, server_error),
    })
}

/// The service's error inside an SDK error, and whether its status was a 5xx; or what a
/// failure to get an answer at all (or the role's credentials to ask with) means.
fn service_error<E>(
    error: SdkError<E, HttpResponse>,
    role: Option<&Role>,
) -> Result<(E, bool), SendError>
where
    E: std::error::Error + 'static,
{
    if let Some(refused) = role.and_then(|role| assume_role_error(&error, role)) {
        return Err(refused);
    }
    let server_error = error
        .raw_response()
        .is_some_and(|raw| raw.status().is_server_error());
    match error {
        SdkError::ServiceError(service) => Ok((service.into_err(), server_error)),
        SdkError::TimeoutError(_) => Err(SendError::Transport("timed out".into())),
        transport @ (SdkError::DispatchFailure(_) | SdkError::ResponseError(_)) => {
            Err(SendError::Transport(one_line(&transport)))
        }
        other => Err(SendError::Other(one_line(&other))),
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

/// What the caller needs to be allowed, said the way an operator fixes it: `action` on the
/// distribution, or `tenant_action` on the tenant.
fn access_denied(
    destination: Destination,
    action: &'static str,
    tenant_action: &'static str,
) -> SendError {
    let who = who(destination.role);
    match destination.tenant_id {
        None => SendError::AccessDenied {
            target: format!("distribution {}", destination.distribution_id),
            who,
            action,
            resource: format!("distribution/{}", destination.distribution_id),
        },
        Some(tenant_id) => SendError::AccessDenied {
            target: format!("distribution tenant {tenant_id}"),
            who,
            action: tenant_action,
            resource: format!("distribution-tenant/{tenant_id}"),
        },
    }
}

/// The invalidation a GetInvalidation asked for.
struct Asked<'a> {
    destination: Destination<'a>,
    invalidation_id: &'a str,
}

/// What an error answer to GetInvalidation (or its tenant form, whose errors are typed
/// apart) means, by its code.
fn classify_check<E>(error: SdkError<E, HttpResponse>, asked: &Asked) -> SendError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let destination = asked.destination;
    let (service, server_error) = match service_error(error, destination.role) {
        Ok(service) => service,
        Err(error) => return error,
    };
    let code = service.code().unwrap_or_default();
    let message = service.message().unwrap_or_default();
    match code {
        "NoSuchInvalidation" => SendError::NoSuchInvalidation {
            invalidation_id: asked.invalidation_id.to_owned(),
        },
        "NoSuchDistribution" => SendError::NoSuchDistribution {
            distribution_id: destination.distribution_id.to_owned(),
        },
        "AccessDenied" => access_denied(
            destination,
            "cloudfront:GetInvalidation",
            "cloudfront:GetInvalidationForDistributionTenant",
        ),
        _ => generic(code, message, server_error),
    }
}

/// A failure to get the role's credentials, found in the error's sources: STS refusing is
/// permanent until the trust policy changes; STS unreachable or busy is worth retrying.
fn assume_role_error(error: &(dyn std::error::Error + 'static), role: &Role) -> Option<SendError> {
    let mut source = Some(error);
    while let Some(current) = source {
        if let Some(sts) = current.downcast_ref::<SdkError<AssumeRoleError, HttpResponse>>() {
            let code = sts.code().unwrap_or_default();
            let server_error = sts
                .raw_response()
                .is_some_and(|raw| raw.status().is_server_error());
            return Some(match sts {
                SdkError::ServiceError(_)
                    if !code.contains("Throttl")
                        && code != "IDPCommunicationError"
                        && !server_error =>
                {
                    SendError::RoleRefused {
                        role_arn: role.arn.clone(),
                        message: format!("{code}: {}", sts.message().unwrap_or_default()),
                    }
                }
                SdkError::ServiceError(_) => {
                    SendError::Unavailable(format!("STS, assuming role {}: {code}", role.arn))
                }
                other => SendError::Transport(format!(
                    "could not reach STS to assume role {}: {}",
                    role.arn,
                    one_line(other)
                )),
            });
        }
        source = current.source();
    }
    None
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

    #[test]
    fn errors_are_told_in_one_line_each_cause_once() {
        #[derive(Debug, thiserror::Error)]
        #[error("dispatch failure")]
        struct Outer(#[source] Middle);
        #[derive(Debug, thiserror::Error)]
        #[error("io error: {0}")]
        struct Middle(#[source] std::io::Error);
        let refused = std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "tcp connect error:\n  Connection refused",
        );
        assert_eq!(
            one_line(&Outer(Middle(refused))),
            "dispatch failure: io error: tcp connect error: Connection refused"
        );
    }

    fn meta(code: &str, message: &str) -> ErrorMetadata {
        ErrorMetadata::builder().code(code).message(message).build()
    }

    fn request(tenant_id: Option<&str>, role: Option<&str>) -> Invalidation {
        Invalidation {
            distribution_id: "E1".into(),
            tenant_id: tenant_id.map(str::to_owned),
            role: role.map(|arn| Role {
                arn: arn.into(),
                external_id: None,
            }),
            caller_reference: "s3cfi-ref".into(),
            paths: vec!["/a".into()],
            covers: vec![Default::default()],
        }
    }

    fn raw(status: u16) -> HttpResponse {
        HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::empty())
    }

    fn answer(status: u16, error: CreateInvalidationError) -> Result<Receipt, SendError> {
        classify(
            SdkError::service_error(error, raw(status)),
            named,
            &request(None, None),
        )
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

    #[test]
    fn tenant_answers_mean_the_same_and_name_the_tenant() {
        use CreateInvalidationForDistributionTenantError as E;
        let tenant = request(Some("dt_1"), None);
        let answer = |status: u16, error: E| {
            classify(
                SdkError::service_error(error, raw(status)),
                named_for_tenant,
                &tenant,
            )
        };
        let missing = E::EntityNotFound(
            aws_sdk_cloudfront::types::error::EntityNotFound::builder()
                .meta(meta("EntityNotFound", ""))
                .build(),
        );
        let error = answer(404, missing).unwrap_err();
        assert_eq!(
            error.to_string(),
            "distribution tenant dt_1 does not exist (EntityNotFound): check TENANT_ID or ROUTES"
        );
        let denied = E::AccessDenied(
            AccessDenied::builder()
                .meta(meta("AccessDenied", ""))
                .build(),
        );
        assert_eq!(
            answer(403, denied).unwrap_err().to_string(),
            "access denied on distribution tenant dt_1 (AccessDenied): the function's role needs cloudfront:CreateInvalidationForDistributionTenant on arn:aws:cloudfront::ACCOUNT_ID:distribution-tenant/dt_1"
        );
        let busy = E::TooManyInvalidationsInProgress(
            TooManyInvalidationsInProgress::builder()
                .meta(meta("TooManyInvalidationsInProgress", ""))
                .build(),
        );
        assert_eq!(answer(400, busy), Err(SendError::TooManyInProgress));
        let reused = E::generic(meta("InvalidationBatchAlreadyExists", "seen"));
        assert_eq!(answer(400, reused), Ok(Receipt::already_exists()));
        let throttled = E::generic(meta("Throttling", "Rate exceeded"));
        assert!(answer(400, throttled).unwrap_err().is_retryable());
    }

    #[test]
    fn a_role_sts_refuses_is_named_and_not_retried() {
        use aws_credential_types::provider::error::CredentialsError;
        use aws_smithy_runtime_api::client::result::ConnectorError;
        let through_role = request(None, Some("arn:aws:iam::111122223333:role/x"));
        // As the SDK reports it: identity resolution failed before the request was sent.
        let sts_said = |status: u16, code: &str| {
            let sts: SdkError<AssumeRoleError, HttpResponse> = SdkError::service_error(
                AssumeRoleError::generic(meta(code, "not authorized to perform sts:AssumeRole")),
                raw(status),
            );
            let error: SdkError<CreateInvalidationError, HttpResponse> = SdkError::dispatch_failure(
                ConnectorError::other(Box::new(CredentialsError::provider_error(sts)), None),
            );
            classify(error, named, &through_role)
        };
        let refused = sts_said(403, "AccessDenied").unwrap_err();
        assert!(!refused.is_retryable());
        assert_eq!(
            refused.to_string(),
            "STS refused to assume role arn:aws:iam::111122223333:role/x (AccessDenied: not authorized to perform sts:AssumeRole): its trust policy must allow the function's role, with the external id if it asks for one (README, Cross-account)"
        );
        assert!(
            sts_said(503, "ServiceUnavailable")
                .unwrap_err()
                .is_retryable()
        );
        assert!(sts_said(400, "Throttling").unwrap_err().is_retryable());
        let denied = CreateInvalidationError::AccessDenied(
            AccessDenied::builder()
                .meta(meta("AccessDenied", ""))
                .build(),
        );
        let error = classify(
            SdkError::service_error(denied, raw(403)),
            named,
            &through_role,
        );
        assert!(
            error.unwrap_err().to_string().contains(
                "role arn:aws:iam::111122223333:role/x needs cloudfront:CreateInvalidation on arn:aws:cloudfront::ACCOUNT_ID:distribution/E1"
            )
        );
    }
}
