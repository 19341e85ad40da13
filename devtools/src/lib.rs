//! Local stand-ins for AWS used by tests, the demo and the benchmarks.

pub mod events;
pub mod fake_cloudfront;
pub mod fake_s3;
pub mod fake_sqs_eventbridge;
pub mod runtime_api;
pub mod tls;

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// Serves HTTP/1 on a free loopback port in the background, each request answered by
/// `respond`; the address it listens on.
pub(crate) async fn serve_loopback<F, A>(respond: F) -> std::io::Result<SocketAddr>
where
    F: Fn(Request<Incoming>) -> A + Clone + Send + Sync + 'static,
    A: Future<Output = Result<Response<Full<Bytes>>, Infallible>> + Send + 'static,
{
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let respond = respond.clone();
            tokio::spawn(async move {
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service_fn(respond))
                    .await;
            });
        }
    });
    Ok(addr)
}

/// A request's method, path segments and body, as both loopback servers route on them.
pub(crate) async fn split_request(
    request: hyper::Request<hyper::body::Incoming>,
) -> (hyper::Method, Vec<String>, Bytes) {
    let method = request.method().clone();
    let segments = request
        .uri()
        .path()
        .trim_matches('/')
        .split('/')
        .map(str::to_owned)
        .collect();
    (method, segments, body(request).await)
}

/// A request's whole body; empty when it cannot be read.
pub(crate) async fn body(request: hyper::Request<hyper::body::Incoming>) -> Bytes {
    request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default()
}
