//! A CloudFront endpoint on loopback that follows the CreateInvalidation contract where
//! emulators do not: it dedupes by CallerReference, raises InvalidationBatchAlreadyExists,
//! InconsistentQuantities, BatchTooLarge, InvalidArgument and MissingBody, enforces the
//! in-progress limits (3,000 paths, 15 wildcards) until invalidations complete, and can be
//! told to answer the next requests with a fault. It serves tenants of multi-tenant
//! distributions too (CreateInvalidationForDistributionTenant), under the same rules, a
//! distribution and tenant pair being the unit of references and limits. GetInvalidation
//! (also for a tenant) reports `InProgress` until an invalidation completes.
//!
//! Where the field disagrees with the documentation it can answer the field's way: a reused
//! CallerReference refused with `InvalidArgument` (jonls/s3-deploy-website#26,
//! aws/aws-cdk#3878), and chosen paths refused, each refusal failing the whole request.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use quick_xml::escape::{escape, unescape};
use quick_xml::events::Event;
use tokio::net::TcpListener;

pub const MAX_PATHS_PER_REQUEST: usize = 3000;
pub const MAX_PATHS_IN_PROGRESS: usize = 3000;
pub const MAX_WILDCARDS_IN_PROGRESS: usize = 15;

/// What the next request gets instead of normal processing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// An error response with this status and code.
    Error { status: u16, code: String },
    /// The API rate limit (`Throttling: Rate exceeded`).
    Throttle,
    /// Acts on the request at once but answers only after this long, as when CloudFront
    /// has made the invalidation and the caller gives up waiting.
    Delay(Duration),
    /// Drops the connection without an answer.
    Reset,
    /// A 201 whose XML stops half-way.
    TruncatedXml,
    /// A 201 whose body is not XML.
    MalformedXml,
}

impl Fault {
    pub fn error(status: u16, code: &str) -> Fault {
        Fault::Error {
            status,
            code: code.into(),
        }
    }
}

/// CloudFront's message when it refuses a request for one or more of its paths.
pub const INVALID_PATHS_MESSAGE: &str =
    "Your request contains one or more invalid invalidation paths.";
/// CloudFront's message, as users report it, for a CallerReference used before.
pub const REUSED_REFERENCE_MESSAGE: &str = "Your request contains a caller reference that was used for a previous invalidation batch for the same distribution.";

/// How a CallerReference seen before is answered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ReplayAnswer {
    /// As documented: the earlier invalidation for the same paths,
    /// `InvalidationBatchAlreadyExists` for other paths.
    #[default]
    Documented,
    /// As users report: `InvalidArgument`, whatever the paths.
    Field,
}

/// How the fake answered one CreateInvalidation request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Created(String),
    /// An earlier invalidation returned again for a repeated CallerReference.
    Reused(String),
    Error(String),
    Fault(Fault),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub distribution_id: String,
    /// The tenant a CreateInvalidationForDistributionTenant request named.
    pub tenant_id: Option<String>,
    pub caller_reference: String,
    pub paths: Vec<String>,
    pub answer: Answer,
}

#[derive(Debug, Clone)]
pub struct Invalidation {
    pub id: String,
    pub distribution_id: String,
    /// Set for an invalidation of one tenant of a multi-tenant distribution.
    pub tenant_id: Option<String>,
    pub caller_reference: String,
    pub paths: Vec<String>,
    pub created: Instant,
    pub create_time: SystemTime,
}

#[derive(Default)]
struct State {
    distributions: Vec<String>,
    /// Tenant ids, each with its multi-tenant distribution.
    tenants: Vec<(String, String)>,
    invalidations: Vec<Invalidation>,
    faults: VecDeque<Fault>,
    received: Vec<Received>,
    complete_after: Duration,
    replay_answer: ReplayAnswer,
    refused_paths: Vec<String>,
    /// Invalidation ids GetInvalidation was asked for, in order.
    checked: Vec<String>,
}

impl State {
    fn in_progress<'a>(&'a self, target: &'a Target) -> impl Iterator<Item = &'a Invalidation> {
        let complete_after = self.complete_after;
        self.invalidations
            .iter()
            .filter(move |i| target.holds(i) && i.created.elapsed() < complete_after)
    }

    fn status(&self, invalidation: &Invalidation) -> &'static str {
        if invalidation.created.elapsed() < self.complete_after {
            "InProgress"
        } else {
            "Completed"
        }
    }
}

/// A running fake; dropping it does not stop the server task (the test runtime does).
#[derive(Clone)]
pub struct FakeCloudFront {
    state: Arc<Mutex<State>>,
    pub addr: SocketAddr,
    tls: bool,
}

impl FakeCloudFront {
    /// Starts on a free loopback port, serving the given distributions. Invalidations
    /// stay in progress for `complete_after`.
    pub async fn start(distributions: &[&str], complete_after: Duration) -> std::io::Result<Self> {
        Self::start_on(0, distributions, complete_after).await
    }

    pub async fn start_on(
        port: u16,
        distributions: &[&str],
        complete_after: Duration,
    ) -> std::io::Result<Self> {
        Self::serve(port, distributions, complete_after, None).await
    }

    /// As [`FakeCloudFront::start`], over HTTPS with a certificate from `tls`.
    pub async fn start_tls(
        distributions: &[&str],
        complete_after: Duration,
        tls: Arc<rustls::ServerConfig>,
    ) -> std::io::Result<Self> {
        Self::serve(0, distributions, complete_after, Some(tls)).await
    }

    async fn serve(
        port: u16,
        distributions: &[&str],
        complete_after: Duration,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State {
            distributions: distributions.iter().map(|d| d.to_string()).collect(),
            complete_after,
            ..State::default()
        }));
        let served = state.clone();
        let acceptor = tls.clone().map(tokio_rustls::TlsAcceptor::from);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                // Nagle off, as HTTP servers usually run: with it, the TLS handshake's small
                // writes wait on the client's delayed ACK, and one cold start in two measured
                // 40 ms more.
                let _ = stream.set_nodelay(true);
                let state = served.clone();
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request| respond(state.clone(), request));
                    let http = http1::Builder::new();
                    let _ = match acceptor {
                        Some(acceptor) => match acceptor.accept(stream).await {
                            Ok(stream) => {
                                http.serve_connection(TokioIo::new(stream), service).await
                            }
                            Err(_) => return,
                        },
                        None => http.serve_connection(TokioIo::new(stream), service).await,
                    };
                });
            }
        });
        Ok(FakeCloudFront {
            state,
            addr,
            tls: tls.is_some(),
        })
    }

    pub fn endpoint(&self) -> String {
        match self.tls {
            true => format!("https://localhost:{}", self.addr.port()),
            false => format!("http://{}", self.addr),
        }
    }

    /// Queues faults, answered in order to the next requests.
    pub fn inject(&self, faults: impl IntoIterator<Item = Fault>) {
        self.state.lock().unwrap().faults.extend(faults);
    }

    pub fn clear_faults(&self) {
        self.state.lock().unwrap().faults.clear();
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    pub fn invalidations(&self) -> Vec<Invalidation> {
        self.state.lock().unwrap().invalidations.clone()
    }

    /// How a CallerReference seen before is answered from now on.
    pub fn set_replay_answer(&self, replay_answer: ReplayAnswer) {
        self.state.lock().unwrap().replay_answer = replay_answer;
    }

    /// Refuses, from now on, every request holding one of these paths, with `InvalidArgument`.
    pub fn refuse_paths(&self, paths: impl IntoIterator<Item = impl Into<String>>) {
        let mut state = self.state.lock().unwrap();
        state
            .refused_paths
            .extend(paths.into_iter().map(Into::into));
    }

    /// Serves `tenant_id`, a tenant of the multi-tenant distribution `distribution_id`.
    pub fn add_tenant(&self, tenant_id: &str, distribution_id: &str) {
        self.state
            .lock()
            .unwrap()
            .tenants
            .push((tenant_id.to_owned(), distribution_id.to_owned()));
    }

    pub fn set_complete_after(&self, complete_after: Duration) {
        self.state.lock().unwrap().complete_after = complete_after;
    }

    /// Moves every invalidation's CreateTime `by` into the past, as if made that long ago
    /// (whether it is complete still follows from when it was really made).
    pub fn backdate(&self, by: Duration) {
        for invalidation in &mut self.state.lock().unwrap().invalidations {
            invalidation.create_time -= by;
        }
    }

    /// Invalidation ids GetInvalidation (either form) was asked for, in order.
    pub fn checked(&self) -> Vec<String> {
        self.state.lock().unwrap().checked.clone()
    }
}

/// What a request invalidates: a distribution, or one tenant of a multi-tenant distribution.
#[derive(Debug, Clone)]
struct Target {
    distribution_id: String,
    tenant_id: Option<String>,
}

impl Target {
    fn holds(&self, invalidation: &Invalidation) -> bool {
        invalidation.distribution_id == self.distribution_id
            && invalidation.tenant_id == self.tenant_id
    }
}

/// What the SDK's request body says.
#[derive(Debug, Default)]
struct Batch {
    quantity: Option<String>,
    paths: Vec<String>,
    caller_reference: Option<String>,
}

fn parse_batch(body: &str) -> Result<Batch, String> {
    let mut reader = quick_xml::Reader::from_str(body);
    let mut batch = Batch::default();
    let mut element = String::new();
    let mut text = String::new();
    let mut seen_root = false;
    loop {
        match reader.read_event().map_err(|e| e.to_string())? {
            Event::Start(start) => {
                element = start.name().as_ref().to_owned();
                seen_root |= element == "InvalidationBatch";
                text.clear();
            }
            Event::Text(raw) => text.push_str(raw.as_ref()),
            Event::GeneralRef(reference) => {
                text.push('&');
                text.push_str(reference.as_ref());
                text.push(';');
            }
            Event::End(_) => {
                let value = unescape(&text).map_err(|e| e.to_string())?.into_owned();
                match element.as_str() {
                    "Path" => batch.paths.push(value),
                    "Quantity" => batch.quantity = Some(value),
                    "CallerReference" => batch.caller_reference = Some(value),
                    _ => {}
                }
                element.clear();
                text.clear();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if seen_root {
        Ok(batch)
    } else {
        Err("no InvalidationBatch".into())
    }
}

/// CloudFront's rules for a path, as users have found them: a leading `/`, at most 4,000
/// characters, `*` only last, and no character that must be percent-encoded (`~` included,
/// aws/aws-sdk#525).
fn is_invalid_path(path: &str) -> bool {
    !path.starts_with('/')
        || path.len() > 4000
        || path.find('*').is_some_and(|at| at != path.len() - 1)
        || path
            .chars()
            .any(|c| !c.is_ascii_graphic() || "\"<>#{}|\\^[]`~".contains(c))
}

fn xml_response(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "text/xml")
        .header("x-amz-request-id", "fake-request")
        .body(Full::new(Bytes::from(body)))
        .expect("static response parts are valid")
}

fn error_response(status: u16, code: &str, message: &str) -> Response<Full<Bytes>> {
    let body = format!(
        r#"<?xml version="1.0"?><ErrorResponse xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"><Error><Type>Sender</Type><Code>{code}</Code><Message>{}</Message></Error><RequestId>fake-request</RequestId></ErrorResponse>"#,
        escape(message)
    );
    xml_response(
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        body,
    )
}

fn invalidation_xml(invalidation: &Invalidation, status: &str) -> String {
    let paths: String = invalidation
        .paths
        .iter()
        .map(|p| format!("<Path>{}</Path>", escape(p.as_str())))
        .collect();
    format!(
        r#"<?xml version="1.0"?><Invalidation xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"><Id>{}</Id><Status>{status}</Status><CreateTime>{}</CreateTime><InvalidationBatch><Paths><Quantity>{}</Quantity><Items>{paths}</Items></Paths><CallerReference>{}</CallerReference></InvalidationBatch></Invalidation>"#,
        invalidation.id,
        humantime::format_rfc3339_millis(invalidation.create_time),
        invalidation.paths.len(),
        escape(invalidation.caller_reference.as_str())
    )
}

#[derive(Debug)]
struct DropConnection;

impl std::fmt::Display for DropConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("fault: connection reset")
    }
}

impl std::error::Error for DropConnection {}

async fn respond(
    state: Arc<Mutex<State>>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, DropConnection> {
    let (method, segments, body) = crate::split_request(request).await;
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    match (method, segments.as_slice()) {
        (Method::POST, ["2020-05-31", "distribution", id, "invalidation"]) => {
            create(
                &state,
                Addressed::Distribution(id),
                &String::from_utf8_lossy(&body),
            )
            .await
        }
        (Method::POST, ["2020-05-31", "distribution-tenant", id, "invalidation"]) => {
            create(
                &state,
                Addressed::Tenant(id),
                &String::from_utf8_lossy(&body),
            )
            .await
        }
        (Method::GET, ["2020-05-31", kind, id, "invalidation", invalidation_id])
            if *kind == "distribution" || *kind == "distribution-tenant" =>
        {
            let mut state = state.lock().unwrap();
            state.checked.push(invalidation_id.to_string());
            let distribution_id = match *kind {
                "distribution" => Some(id.to_string()),
                _ => state
                    .tenants
                    .iter()
                    .find(|(tenant, _)| tenant == id)
                    .map(|(_, distribution)| distribution.clone()),
            };
            let Some(distribution_id) = distribution_id else {
                return Ok(error_response(404, "EntityNotFound", "no such tenant"));
            };
            if !state.distributions.contains(&distribution_id) {
                return Ok(error_response(
                    404,
                    "NoSuchDistribution",
                    "The specified distribution does not exist.",
                ));
            }
            Ok(
                match state
                    .invalidations
                    .iter()
                    .find(|i| i.id == *invalidation_id && i.distribution_id == distribution_id)
                {
                    Some(found) => {
                        xml_response(StatusCode::OK, invalidation_xml(found, state.status(found)))
                    }
                    None => error_response(
                        404,
                        "NoSuchInvalidation",
                        "The specified invalidation does not exist.",
                    ),
                },
            )
        }
        (Method::GET, ["2020-05-31", "distribution", id, "invalidation"]) => {
            let state = state.lock().unwrap();
            let items: String = state
                .invalidations
                .iter()
                .filter(|i| i.distribution_id == *id)
                .map(|i| {
                    format!(
                        "<InvalidationSummary><Id>{}</Id><CreateTime>{}</CreateTime><Status>{}</Status></InvalidationSummary>",
                        i.id,
                        humantime::format_rfc3339_millis(i.create_time),
                        state.status(i)
                    )
                })
                .collect();
            let count = state
                .invalidations
                .iter()
                .filter(|i| i.distribution_id == *id)
                .count();
            Ok(xml_response(
                StatusCode::OK,
                format!(
                    r#"<?xml version="1.0"?><InvalidationList xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"><Marker></Marker><MaxItems>100</MaxItems><IsTruncated>false</IsTruncated><Quantity>{count}</Quantity><Items>{items}</Items></InvalidationList>"#
                ),
            ))
        }
        _ => Ok(error_response(
            404,
            "NotFound",
            "the fake serves only invalidation calls",
        )),
    }
}

/// The id a create request's URL names.
#[derive(Debug, Clone, Copy)]
enum Addressed<'a> {
    Distribution(&'a str),
    Tenant(&'a str),
}

async fn create(
    state: &Arc<Mutex<State>>,
    addressed: Addressed<'_>,
    body: &str,
) -> Result<Response<Full<Bytes>>, DropConnection> {
    let (distribution_id, tenant_id) = match addressed {
        Addressed::Distribution(id) => (id.to_owned(), None),
        Addressed::Tenant(tenant) => {
            let state = state.lock().unwrap();
            let distribution = state
                .tenants
                .iter()
                .find(|(id, _)| id == tenant)
                .map(|(_, distribution)| distribution.clone())
                .unwrap_or_default();
            (distribution, Some(tenant.to_owned()))
        }
    };
    let target = Target {
        distribution_id: distribution_id.clone(),
        tenant_id: tenant_id.clone(),
    };
    let batch = parse_batch(body);
    let (caller_reference, paths) = match &batch {
        Ok(batch) => (
            batch.caller_reference.clone().unwrap_or_default(),
            batch.paths.clone(),
        ),
        Err(_) => (String::new(), Vec::new()),
    };
    let record = |state: &Arc<Mutex<State>>, answer: Answer| {
        state.lock().unwrap().received.push(Received {
            distribution_id: distribution_id.clone(),
            tenant_id: tenant_id.clone(),
            caller_reference: caller_reference.clone(),
            paths: paths.clone(),
            answer,
        });
    };
    let fault = state.lock().unwrap().faults.pop_front();
    let mut answer_after = None;
    if let Some(fault) = fault {
        if let Fault::Delay(delay) = fault {
            answer_after = Some(delay);
        } else {
            record(state, Answer::Fault(fault.clone()));
        }
        match fault {
            Fault::Error { status, code } => {
                return Ok(error_response(status, &code, "injected fault"));
            }
            Fault::Throttle => return Ok(error_response(400, "Throttling", "Rate exceeded")),
            Fault::Reset => return Err(DropConnection),
            Fault::TruncatedXml => {
                return Ok(xml_response(
                    StatusCode::CREATED,
                    r#"<?xml version="1.0"?><Invalidation xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"><Id>I"#.into(),
                ));
            }
            Fault::MalformedXml => {
                return Ok(xml_response(
                    StatusCode::CREATED,
                    "<<<not xml at all".into(),
                ));
            }
            Fault::Delay(_) => {}
        }
    }
    let (answer, response) = decide(&mut state.lock().unwrap(), &target, batch);
    record(state, answer);
    if let Some(delay) = answer_after {
        tokio::time::sleep(delay).await;
    }
    Ok(response)
}

/// The answer and the response for a request that reached CloudFront's logic.
fn decide(
    state: &mut State,
    target: &Target,
    batch: Result<Batch, String>,
) -> (Answer, Response<Full<Bytes>>) {
    match answer(state, target, batch) {
        Ok((invalidation, reused)) => {
            let status = state.status(&invalidation);
            let response = Response::builder()
                .status(StatusCode::CREATED)
                .header("content-type", "text/xml")
                .header(
                    "location",
                    match &target.tenant_id {
                        None => format!("https://cloudfront.amazonaws.com/2020-05-31/distribution/{}/invalidation/{}", target.distribution_id, invalidation.id),
                        Some(tenant) => format!("https://cloudfront.amazonaws.com/2020-05-31/distribution-tenant/{tenant}/invalidation/{}", invalidation.id),
                    },
                )
                .body(Full::new(Bytes::from(invalidation_xml(&invalidation, status))))
                .expect("valid response");
            let id = invalidation.id.clone();
            (
                if reused {
                    Answer::Reused(id)
                } else {
                    Answer::Created(id)
                },
                response,
            )
        }
        Err((status, code, message)) => (
            Answer::Error(code.to_owned()),
            error_response(status, code, &message),
        ),
    }
}

type Refusal = (u16, &'static str, String);

/// CloudFront's decision for a well-delivered request.
fn answer(
    state: &mut State,
    target: &Target,
    batch: Result<Batch, String>,
) -> Result<(Invalidation, bool), Refusal> {
    let distribution_id = target.distribution_id.as_str();
    if let Some(tenant) = &target.tenant_id
        && !state.tenants.iter().any(|(id, _)| id == tenant)
    {
        return Err((
            404,
            "EntityNotFound",
            format!("The specified distribution tenant does not exist: {tenant}"),
        ));
    }
    if !state.distributions.iter().any(|d| d == distribution_id) {
        return Err((
            404,
            "NoSuchDistribution",
            format!("The specified distribution does not exist: {distribution_id}"),
        ));
    }
    let batch = batch.map_err(|e| {
        (
            400,
            "MissingBody",
            format!("the request has no InvalidationBatch: {e}"),
        )
    })?;
    let caller_reference = batch.caller_reference.ok_or((
        400,
        "MissingBody",
        "CallerReference is required".to_string(),
    ))?;
    let quantity: usize = batch
        .quantity
        .as_deref()
        .and_then(|q| q.parse().ok())
        .ok_or((
            400,
            "InconsistentQuantities",
            "Quantity is missing or not a number".to_string(),
        ))?;
    if quantity != batch.paths.len() {
        return Err((
            400,
            "InconsistentQuantities",
            format!("Quantity {quantity} but {} paths", batch.paths.len()),
        ));
    }
    if batch.paths.len() > MAX_PATHS_PER_REQUEST {
        return Err((
            400,
            "BatchTooLarge",
            format!(
                "{} paths; at most {MAX_PATHS_PER_REQUEST}",
                batch.paths.len()
            ),
        ));
    }
    // CloudFront names neither the path nor the reason.
    if batch
        .paths
        .iter()
        .any(|p| is_invalid_path(p) || state.refused_paths.contains(p))
    {
        return Err((400, "InvalidArgument", INVALID_PATHS_MESSAGE.into()));
    }
    if let Some(earlier) = state
        .invalidations
        .iter()
        .find(|i| target.holds(i) && i.caller_reference == caller_reference)
    {
        if state.replay_answer == ReplayAnswer::Field {
            return Err((400, "InvalidArgument", REUSED_REFERENCE_MESSAGE.into()));
        }
        let mut earlier_paths = earlier.paths.clone();
        let mut paths = batch.paths.clone();
        earlier_paths.sort();
        paths.sort();
        return if earlier_paths == paths {
            Ok((earlier.clone(), true))
        } else {
            Err((
                400,
                "InvalidationBatchAlreadyExists",
                format!("CallerReference {caller_reference} was used for another batch"),
            ))
        };
    }
    let (paths_in_progress, wildcards_in_progress) =
        state
            .in_progress(target)
            .fold((0, 0), |(paths, wildcards), i| {
                (
                    paths + i.paths.len(),
                    wildcards + i.paths.iter().filter(|p| p.ends_with('*')).count(),
                )
            });
    let new_wildcards = batch.paths.iter().filter(|p| p.ends_with('*')).count();
    if paths_in_progress + batch.paths.len() > MAX_PATHS_IN_PROGRESS
        || wildcards_in_progress + new_wildcards > MAX_WILDCARDS_IN_PROGRESS
    {
        return Err((
            400,
            "TooManyInvalidationsInProgress",
            format!(
                "{paths_in_progress} paths and {wildcards_in_progress} wildcards already in progress"
            ),
        ));
    }
    let invalidation = Invalidation {
        id: format!("I{:013}", state.invalidations.len() + 1),
        distribution_id: distribution_id.to_owned(),
        tenant_id: target.tenant_id.clone(),
        caller_reference,
        paths: batch.paths,
        created: Instant::now(),
        create_time: SystemTime::now(),
    };
    state.invalidations.push(invalidation.clone());
    Ok((invalidation, false))
}

impl std::fmt::Debug for FakeCloudFront {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FakeCloudFront({})", self.addr)
    }
}
