//! Hands the handler each invocation's payload as the runtime received it: bytes.
//!
//! `lambda_runtime` deserialises every payload into the handler's event type before the
//! handler runs. Even the cheapest type that keeps the JSON, `Box<RawValue>`, costs a full
//! validating pass and a copy: for a 3,000-message SQS batch, 2 ms and 3 MB before decoding
//! starts, then the decoder reads it all again. [`RawPayloads`] is a layer that takes the body
//! out of the invocation, keyed by request id, and leaves `null` in its place, which the
//! runtime reads as the handler's event `()` for free; the handler then takes the body back.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use lambda_runtime::LambdaInvocation;
use lambda_runtime::tower::{Layer, Service};

/// The bodies of invocations on their way to the handler, by request id.
#[derive(Clone, Default)]
pub struct RawPayloads {
    bodies: Arc<Mutex<HashMap<String, Bytes>>>,
}

impl RawPayloads {
    /// The payload of invocation `request_id`, once; empty if it had none.
    pub fn take(&self, request_id: &str) -> Bytes {
        self.bodies
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(request_id)
            .unwrap_or_default()
    }
}

impl<S> Layer<S> for RawPayloads {
    type Service = TakeBody<S>;

    fn layer(&self, inner: S) -> TakeBody<S> {
        TakeBody {
            inner,
            payloads: self.clone(),
        }
    }
}

/// The service [`RawPayloads`] wraps around the runtime's own.
pub struct TakeBody<S> {
    inner: S,
    payloads: RawPayloads,
}

impl<S: Service<LambdaInvocation>> Service<LambdaInvocation> for TakeBody<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut invocation: LambdaInvocation) -> S::Future {
        let body = std::mem::replace(&mut invocation.body, Bytes::from_static(b"null"));
        self.payloads
            .bodies
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(invocation.context.request_id.clone(), body);
        self.inner.call(invocation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_runtime::Context;
    use lambda_runtime::tower::{ServiceExt, service_fn};

    fn invocation(request_id: &str, body: &'static [u8]) -> LambdaInvocation {
        let mut context = Context::default();
        context.request_id = request_id.into();
        LambdaInvocation {
            parts: http::Response::new(()).into_parts().0,
            body: Bytes::from_static(body),
            context,
        }
    }

    #[tokio::test]
    async fn the_runtime_sees_null_and_the_handler_takes_the_body_once() {
        let payloads = RawPayloads::default();
        let inner = service_fn(|invocation: LambdaInvocation| async move {
            Ok::<_, std::convert::Infallible>(invocation.body)
        });
        let mut service = payloads.layer(inner);
        let seen = service
            .ready()
            .await
            .unwrap()
            .call(invocation("req-1", br#"{"Records":[]}"#))
            .await
            .unwrap();
        assert_eq!(seen, "null");
        service
            .ready()
            .await
            .unwrap()
            .call(invocation("req-2", b"[2]"))
            .await
            .unwrap();
        assert_eq!(payloads.take("req-1"), r#"{"Records":[]}"#);
        assert_eq!(payloads.take("req-2"), "[2]");
        assert!(payloads.take("req-1").is_empty(), "taken once");
    }
}
