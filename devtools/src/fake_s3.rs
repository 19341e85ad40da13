//! S3's GetBucketLocation and GetBucketNotificationConfiguration on loopback, answering as
//! AWS documents, for what moto cannot answer: moto 5.2 never returns a bucket's
//! `EventBridgeConfiguration` (it keeps it, but leaves it out of the answer), and turning on
//! EventBridge is how an existing bucket reaches the function. Path-style requests only (the
//! SDK uses them for an IP endpoint).

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, StatusCode};

/// A bucket as the fake describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    pub name: String,
    /// Its region; us-east-1 is answered with an empty `LocationConstraint`, as S3 does.
    pub region: String,
    /// Whether its EventBridge notifications are on.
    pub eventbridge: bool,
}

/// A running fake; the server task ends with the runtime.
#[derive(Clone)]
pub struct FakeS3 {
    pub addr: SocketAddr,
}

impl FakeS3 {
    /// Starts on a free loopback port, serving `buckets`.
    pub async fn start(buckets: Vec<Bucket>) -> std::io::Result<Self> {
        let buckets = Arc::new(buckets);
        let addr = crate::serve_loopback(move |request| {
            let answer = respond(&buckets, &request);
            async move { Ok(answer) }
        })
        .await?;
        Ok(FakeS3 { addr })
    }

    /// For `AWS_ENDPOINT_URL_S3`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }
}

const XMLNS: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

fn xml(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/xml")
        .body(Full::new(Bytes::from(format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{body}"
        ))))
        .expect("static response parts are valid")
}

fn error(status: StatusCode, code: &str, message: &str) -> Response<Full<Bytes>> {
    xml(
        status,
        format!(
            "<Error><Code>{code}</Code><Message>{message}</Message><RequestId>fake-s3</RequestId></Error>"
        ),
    )
}

fn respond(buckets: &[Bucket], request: &Request<hyper::body::Incoming>) -> Response<Full<Bytes>> {
    let name = request.uri().path().trim_matches('/');
    let query = request.uri().query().unwrap_or_default();
    let Some(bucket) = buckets.iter().find(|bucket| bucket.name == name) else {
        return error(
            StatusCode::NOT_FOUND,
            "NoSuchBucket",
            "The specified bucket does not exist",
        );
    };
    let subresource = query.split('&').next().unwrap_or_default();
    match subresource.split('=').next().unwrap_or_default() {
        "location" => {
            let region = match bucket.region.as_str() {
                "us-east-1" => "",
                region => region,
            };
            xml(
                StatusCode::OK,
                format!("<LocationConstraint xmlns=\"{XMLNS}\">{region}</LocationConstraint>"),
            )
        }
        "notification" => {
            let eventbridge = match bucket.eventbridge {
                true => "<EventBridgeConfiguration></EventBridgeConfiguration>",
                false => "",
            };
            xml(
                StatusCode::OK,
                format!(
                    "<NotificationConfiguration xmlns=\"{XMLNS}\">{eventbridge}</NotificationConfiguration>"
                ),
            )
        }
        other => error(
            StatusCode::NOT_IMPLEMENTED,
            "NotImplemented",
            &format!("the fake answers ?location and ?notification, not ?{other}"),
        ),
    }
}
