//! Writes work for later on the function's own SQS queue (deferred invalidations and
//! completion checks), as delayed messages: a small trait, and its AWS SDK implementation.

use std::future::Future;
use std::time::Duration;

use aws_config::SdkConfig;

/// Longest delay SQS allows on a message.
pub const MAX_DELAY: Duration = Duration::from_secs(crate::config::MAX_QUEUE_DELAY_SECONDS);

/// SQS did not take the message; the message says why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("could not write to the work queue: {0}")]
pub struct QueueError(pub String);

/// The one queue call the function makes.
pub trait WorkQueue {
    /// Sends `body`, visible to receivers after `delay` (at most [`MAX_DELAY`]).
    fn send(
        &self,
        body: String,
        delay: Duration,
    ) -> impl Future<Output = Result<(), QueueError>> + Send;
}

/// The queue at `queue_url`, through the AWS SDK (its own retries on: a lost deferral would
/// send the batch back to the queue, which is safe but slower).
#[derive(Debug, Clone)]
pub struct Sqs {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl Sqs {
    /// The queue at `queue_url`, with the SDK configuration the function loaded.
    pub fn new(sdk_config: &SdkConfig, queue_url: &str) -> Self {
        Sqs {
            client: aws_sdk_sqs::Client::new(sdk_config),
            queue_url: queue_url.to_owned(),
        }
    }
}

impl WorkQueue for Sqs {
    async fn send(&self, body: String, delay: Duration) -> Result<(), QueueError> {
        let seconds = delay.min(MAX_DELAY).as_secs();
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .delay_seconds(i32::try_from(seconds).unwrap_or(900))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                use aws_sdk_sqs::error::ProvideErrorMetadata;
                QueueError(match (e.code(), e.message()) {
                    (Some(code), message) => format!("{code}: {}", message.unwrap_or_default()),
                    (None, _) => crate::send::one_line(&e),
                })
            })
    }
}
