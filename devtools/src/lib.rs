//! Local stand-ins for AWS used by tests, the demo and the benchmarks.

pub mod events;
pub mod fake_cloudfront;
pub mod fake_s3;
pub mod fake_sqs_eventbridge;
pub mod runtime_api;
pub mod tls;

use bytes::Bytes;
use http_body_util::BodyExt;

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
