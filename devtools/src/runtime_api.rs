//! A local Lambda Runtime API (2018-06-01): hands events to a function process through
//! `GET /runtime/invocation/next` and collects what it posts back, with timings.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::process::Command;
use tokio::sync::{mpsc, oneshot};

/// What the function posted for one invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Response(String),
    Error(String),
}

#[derive(Debug, Clone)]
pub struct Invoked {
    pub reply: Reply,
    /// From the event being handed out to the answer being posted.
    pub handled_in: Duration,
}

struct Pending {
    id: String,
    body: Bytes,
    timeout: Duration,
}

struct Waiting {
    /// The answer, when the event was handed out, and when the answer came.
    reply: oneshot::Sender<(Reply, Option<Instant>, Instant)>,
    handed_out: Option<Instant>,
}

#[derive(Default)]
struct Shared {
    waiting: HashMap<String, Waiting>,
    /// When each `GET /next` arrived: the first one marks the end of the function's init.
    polls: Vec<Instant>,
    init_errors: Vec<String>,
}

#[derive(Clone)]
pub struct RuntimeApi {
    pub addr: SocketAddr,
    events: mpsc::UnboundedSender<Pending>,
    shared: Arc<Mutex<Shared>>,
    next_id: Arc<AtomicU64>,
}

type Events = Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<Pending>>>;

impl RuntimeApi {
    pub async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let (events, receiver) = mpsc::unbounded_channel();
        let receiver: Events = Arc::new(tokio::sync::Mutex::new(receiver));
        let shared = Arc::new(Mutex::new(Shared::default()));
        let served = shared.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                // Lambda's own Runtime API server is written in Go, whose sockets have Nagle off.
                let _ = stream.set_nodelay(true);
                let (shared, receiver) = (served.clone(), receiver.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |request| {
                        respond(shared.clone(), receiver.clone(), request)
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(RuntimeApi {
            addr,
            events,
            shared,
            next_id: Arc::new(AtomicU64::new(1)),
        })
    }

    /// A function process as Lambda starts one: a clean environment holding this Runtime
    /// API, the function's metadata, a region, throwaway credentials and the CloudFront
    /// endpoint. Callers add their own configuration; the process dies with the command.
    pub fn function_command(
        &self,
        program: impl AsRef<std::ffi::OsStr>,
        cloudfront_endpoint: &str,
    ) -> Command {
        let mut command = Command::new(program);
        command
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("AWS_LAMBDA_RUNTIME_API", self.host())
            .env("AWS_LAMBDA_FUNCTION_NAME", "s3-cloudfront-invalidator")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "AKIDLOCAL")
            .env("AWS_SECRET_ACCESS_KEY", "local-secret")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_ENDPOINT_URL_CLOUDFRONT", cloudfront_endpoint)
            .kill_on_drop(true);
        command
    }

    /// The value for `AWS_LAMBDA_RUNTIME_API`.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// Hands `event` to the function, with `timeout` as its Lambda deadline, and waits for
    /// its answer (at most `timeout` plus a grace second).
    pub async fn invoke(
        &self,
        event: impl Into<Bytes>,
        timeout: Duration,
    ) -> Result<Invoked, String> {
        let id = format!("req-{:08}", self.next_id.fetch_add(1, Ordering::Relaxed));
        let (reply, answered) = oneshot::channel();
        self.shared.lock().unwrap().waiting.insert(
            id.clone(),
            Waiting {
                reply,
                handed_out: None,
            },
        );
        self.events
            .send(Pending {
                id: id.clone(),
                body: event.into(),
                timeout,
            })
            .map_err(|_| "runtime API stopped".to_string())?;
        let (reply, handed_out, posted) =
            tokio::time::timeout(timeout + Duration::from_secs(1), answered)
                .await
                .map_err(|_| format!("{id}: no answer within {timeout:?}"))?
                .map_err(|_| format!("{id}: dropped"))?;
        Ok(Invoked {
            reply,
            handled_in: posted.duration_since(handed_out.unwrap_or(posted)),
        })
    }

    /// Waits until the function asks for its first event; returns when it did.
    pub async fn first_poll(&self, within: Duration) -> Option<Instant> {
        let start = Instant::now();
        loop {
            if let Some(first) = self.shared.lock().unwrap().polls.first().copied() {
                return Some(first);
            }
            if start.elapsed() >= within {
                return None;
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
    }

    pub fn init_errors(&self) -> Vec<String> {
        self.shared.lock().unwrap().init_errors.clone()
    }
}

fn text(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .body(Full::new(body.into()))
        .expect("static response parts are valid")
}

async fn respond(
    shared: Arc<Mutex<Shared>>,
    events: Events,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    let (method, segments, body) = crate::split_request(request).await;
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let body = String::from_utf8_lossy(&body).into_owned();
    Ok(match (method, segments.as_slice()) {
        (Method::GET, ["2018-06-01", "runtime", "invocation", "next"]) => {
            shared.lock().unwrap().polls.push(Instant::now());
            let Some(pending) = events.lock().await.recv().await else {
                return Ok(text(StatusCode::GONE, "stopped"));
            };
            let deadline = SystemTime::now() + pending.timeout;
            let deadline_ms = deadline
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_millis();
            if let Some(waiting) = shared.lock().unwrap().waiting.get_mut(&pending.id) {
                waiting.handed_out = Some(Instant::now());
            }
            Response::builder()
                .status(StatusCode::OK)
                .header("content-type", "application/json")
                .header("lambda-runtime-aws-request-id", &pending.id)
                .header("lambda-runtime-deadline-ms", deadline_ms.to_string())
                .header(
                    "lambda-runtime-invoked-function-arn",
                    "arn:aws:lambda:us-east-1:123456789012:function:s3-cloudfront-invalidator",
                )
                .header(
                    "lambda-runtime-trace-id",
                    "Root=1-00000000-000000000000000000000000;Sampled=0",
                )
                .body(Full::new(pending.body))
                .expect("valid response")
        }
        (
            Method::POST,
            [
                "2018-06-01",
                "runtime",
                "invocation",
                id,
                kind @ ("response" | "error"),
            ],
        ) => {
            let reply = if *kind == "response" {
                Reply::Response(body)
            } else {
                Reply::Error(body)
            };
            let waiting = shared.lock().unwrap().waiting.remove(*id);
            match waiting {
                Some(waiting) => {
                    let _ = waiting
                        .reply
                        .send((reply, waiting.handed_out, Instant::now()));
                    text(StatusCode::ACCEPTED, "")
                }
                None => text(StatusCode::NOT_FOUND, "unknown request id"),
            }
        }
        (Method::POST, ["2018-06-01", "runtime", "init", "error"]) => {
            shared.lock().unwrap().init_errors.push(body);
            text(StatusCode::ACCEPTED, "")
        }
        _ => text(StatusCode::NOT_FOUND, "not part of the Runtime API"),
    })
}
