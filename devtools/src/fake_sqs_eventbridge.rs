//! SQS `SendMessage` and EventBridge `PutEvents` on one loopback port, recording what the
//! function writes to its queue and bus: the demo's stand-in, so that it needs nothing but
//! this repository. It delivers nothing by itself; whoever drives the function hands the
//! recorded messages back as Lambda's SQS event source would. (The tests use moto's SQS and
//! EventBridge, which also keep delays and follow rules.)

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use serde_json::{Value, json};

/// One `SendMessage`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub body: String,
    pub delay_seconds: u64,
}

/// One `PutEvents` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub bus: String,
    pub source: String,
    pub detail_type: String,
    /// The detail's JSON as the function wrote it.
    pub detail: String,
}

#[derive(Default)]
struct State {
    messages: Vec<Message>,
    events: Vec<Published>,
}

/// A running stand-in; the server task ends with the runtime.
#[derive(Clone)]
pub struct FakeSqsEventBridge {
    state: Arc<Mutex<State>>,
    pub addr: SocketAddr,
}

impl FakeSqsEventBridge {
    /// Starts on a free loopback port.
    pub async fn start() -> std::io::Result<Self> {
        let state = Arc::new(Mutex::new(State::default()));
        let served = state.clone();
        let addr = crate::serve_loopback(move |request| respond(served.clone(), request)).await?;
        Ok(FakeSqsEventBridge { state, addr })
    }

    /// For `AWS_ENDPOINT_URL_SQS` and `AWS_ENDPOINT_URL_EVENTBRIDGE`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The messages sent since the last call, oldest first.
    pub fn take_messages(&self) -> Vec<Message> {
        std::mem::take(&mut self.state.lock().unwrap().messages)
    }

    /// Every event published, oldest first.
    pub fn events(&self) -> Vec<Published> {
        self.state.lock().unwrap().events.clone()
    }
}

fn text(value: &Value, field: &str) -> String {
    value[field].as_str().unwrap_or_default().to_owned()
}

fn json_response(status: StatusCode, body: Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/x-amz-json-1.0")
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("static response parts are valid")
}

async fn respond(
    state: Arc<Mutex<State>>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    // Both services speak AWS JSON: the operation is in X-Amz-Target.
    let target = request
        .headers()
        .get("x-amz-target")
        .and_then(|t| t.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = crate::body(request).await;
    let input: Value = serde_json::from_slice(&body).unwrap_or_default();
    let mut state = state.lock().unwrap();
    Ok(match target.as_str() {
        "AmazonSQS.SendMessage" => {
            state.messages.push(Message {
                body: text(&input, "MessageBody"),
                delay_seconds: input["DelaySeconds"].as_u64().unwrap_or_default(),
            });
            let id = format!("msg-{:08}", state.messages.len());
            json_response(StatusCode::OK, json!({"MessageId": id}))
        }
        "AWSEvents.PutEvents" => {
            let entries = input["Entries"].as_array().cloned().unwrap_or_default();
            let mut ids = Vec::new();
            for entry in entries {
                state.events.push(Published {
                    bus: text(&entry, "EventBusName"),
                    source: text(&entry, "Source"),
                    detail_type: text(&entry, "DetailType"),
                    detail: text(&entry, "Detail"),
                });
                ids.push(json!({"EventId": format!("event-{:08}", state.events.len())}));
            }
            json_response(
                StatusCode::OK,
                json!({"FailedEntryCount": 0, "Entries": ids}),
            )
        }
        other => json_response(
            StatusCode::BAD_REQUEST,
            json!({"__type": "UnknownOperationException", "message": format!("the stand-in serves SendMessage and PutEvents, not {other:?}")}),
        ),
    })
}
