//! Shared by the integration tests: a real SDK client pointed at a loopback endpoint.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_cloudfront::config::{BehaviorVersion, Credentials, Region, SharedCredentialsProvider};
use devtools::fake_cloudfront::FakeCloudFront;
use s3_cloudfront_invalidator::config::Config;
use s3_cloudfront_invalidator::handler::{Handler, HandlerError};
use s3_cloudfront_invalidator::send::Invalidator;
use s3_cloudfront_invalidator::send::{Backoff, CloudFront, https_client};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::time::Instant;

pub const DISTRIBUTION: &str = "EDFDVBD6EXAMPLE";

/// What `aws_config` would load with `AWS_ENDPOINT_URL_CLOUDFRONT` pointing at `endpoint`.
pub fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(https_client())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "AKIDTEST", "secret", None, None, "test",
        )))
        .build()
}

pub fn config(vars: &[(&str, &str)]) -> Config {
    Config::from_vars(vars).unwrap()
}

pub fn site_config(distribution: &str) -> Config {
    config(&[
        ("DISTRIBUTION_ID", distribution),
        ("SOURCE_BUCKET", "example-site"),
        ("INDEX_DOCUMENT", "index.html"),
    ])
}

pub const FAST: Backoff = Backoff {
    first: Duration::from_millis(5),
    max: Duration::from_millis(40),
};

pub fn handler(endpoint: &str, config: Config) -> Handler<CloudFront> {
    Handler {
        config,
        invalidator: CloudFront::new(&sdk_config(endpoint)),
        backoff: FAST,
        metrics: None,
        queue: None,
        watching: None,
    }
}

/// A CloudFront fake serving [`DISTRIBUTION`], whose invalidations stay in progress a minute.
pub async fn fake() -> FakeCloudFront {
    FakeCloudFront::start(&[DISTRIBUTION], Duration::from_secs(60))
        .await
        .unwrap()
}

/// The fake, and a handler for the sample site pointed at it.
pub async fn site() -> (FakeCloudFront, Handler<CloudFront>) {
    let fake = fake().await;
    let handler = handler(&fake.endpoint(), site_config(DISTRIBUTION));
    (fake, handler)
}

pub fn event(name: &str) -> Value {
    let path = format!("{}/events/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

/// The handler on JSON values, answering JSON, as the tests read events and answers.
pub trait HandleJson {
    async fn handle_json(&self, event: &Value, deadline: Instant) -> Result<Value, HandlerError>;
}

impl<I: Invalidator> HandleJson for Handler<I> {
    async fn handle_json(&self, event: &Value, deadline: Instant) -> Result<Value, HandlerError> {
        let answer = self.handle(event.to_string().as_bytes(), deadline).await?;
        Ok(serde_json::to_value(answer).expect("answers serialise"))
    }
}

/// Runs a sample from events/ with five seconds to go.
pub async fn handle_sample(
    handler: &Handler<CloudFront>,
    name: &str,
) -> Result<Value, HandlerError> {
    handler
        .handle_json(&event(name), deadline(Duration::from_secs(5)))
        .await
}

/// The message ids an SQS answer hands back for redelivery.
pub fn failed_message_ids(answer: &Value) -> Vec<&str> {
    answer["batchItemFailures"]
        .as_array()
        .expect("an SQS answer")
        .iter()
        .map(|failure| failure["itemIdentifier"].as_str().expect("a message id"))
        .collect()
}

pub fn deadline(after: Duration) -> Instant {
    Instant::now() + after
}

/// A new SQS queue named `name` at `endpoint` (moto), with a client for it.
pub async fn sqs_queue(endpoint: &str, name: &str) -> (aws_sdk_sqs::Client, String) {
    let client = aws_sdk_sqs::Client::new(&sdk_config(endpoint));
    let url = client
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_owned();
    (client, url)
}

/// Every message visible in the queue (and deletes it), as the records of one Lambda SQS
/// event.
pub async fn receive_all(client: &aws_sdk_sqs::Client, url: &str) -> Vec<Value> {
    let mut records = Vec::new();
    loop {
        let received = client
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap();
        let messages = received.messages();
        if messages.is_empty() {
            return records;
        }
        for message in messages {
            records.push(json!({
                "messageId": message.message_id().unwrap(),
                "body": message.body().unwrap(),
                "eventSource": "aws:sqs",
            }));
            client
                .delete_message()
                .queue_url(url)
                .receipt_handle(message.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
        }
    }
}

/// Every line a function process prints, on stdout or stderr, as it prints them.
pub fn collect_output(child: &mut tokio::process::Child) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    for stream in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn tokio::io::AsyncRead + Unpin + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let lines = lines.clone();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stream).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                lines.lock().unwrap().push(line);
            }
        });
    }
    lines
}
