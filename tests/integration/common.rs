//! Shared by the integration tests: a real SDK client pointed at a loopback endpoint, the
//! CloudFront fake, and moto's server with helpers to set it up and read it.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_cloudfront::config::{BehaviorVersion, Credentials, Region, SharedCredentialsProvider};
use aws_sdk_cloudfront::types::{
    CustomOriginConfig, DefaultCacheBehavior, DistributionConfig, Origin, OriginProtocolPolicy,
    Origins, S3OriginConfig, ViewerProtocolPolicy,
};
use devtools::fake_cloudfront::FakeCloudFront;
use s3_cloudfront_invalidator::config::Config;
use s3_cloudfront_invalidator::handler::{Handler, HandlerError};
use s3_cloudfront_invalidator::outcome::Outcome;
use s3_cloudfront_invalidator::publish::Publisher;
use s3_cloudfront_invalidator::queue::WorkQueue;
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
        .time_source(aws_smithy_async::time::SharedTimeSource::default())
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

/// The handler on JSON values, answering JSON (or with the whole outcome), as the tests read
/// events and answers.
pub trait HandleJson {
    async fn handle_json(&self, event: &Value, deadline: Instant) -> Result<Value, HandlerError>;
    async fn run_json(&self, event: &Value, deadline: Instant) -> Result<Outcome, HandlerError>;
}

impl<I: Invalidator, Q: WorkQueue, P: Publisher> HandleJson for Handler<I, Q, P> {
    async fn handle_json(&self, event: &Value, deadline: Instant) -> Result<Value, HandlerError> {
        let answer = self.handle(event.to_string().as_bytes(), deadline).await?;
        Ok(serde_json::to_value(answer).expect("answers serialise"))
    }

    async fn run_json(&self, event: &Value, deadline: Instant) -> Result<Outcome, HandlerError> {
        self.run(event.to_string().as_bytes(), deadline).await
    }
}

/// Waits for a function process that must refuse to start: it exits with status 2, and its
/// one line on stderr is returned.
pub async fn refused_start_up(child: tokio::process::Child, within: Duration) -> String {
    let output = tokio::time::timeout(within, child.wait_with_output())
        .await
        .expect("the function exits")
        .expect("its output is read");
    assert_eq!(output.status.code(), Some(2));
    String::from_utf8(output.stderr).unwrap().trim().to_owned()
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

/// moto's server (CloudFront, STS and more on one port), stopped when dropped.
pub struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn moto_binary() -> Option<PathBuf> {
    let path = std::env::var_os("MOTO_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/moto_server"));
    path.exists().then_some(path)
}

/// Starts moto, or explains why not. Under `make test` and CI (REQUIRE_MOTO=1) a missing
/// moto fails the test instead of skipping it.
pub async fn start_moto() -> Option<Moto> {
    let Some(binary) = moto_binary() else {
        let message = "moto_server not found: run `make test` (it installs moto into .venv) or set MOTO_SERVER";
        if std::env::var_os("REQUIRE_MOTO").is_some()
            || std::env::var("CI").is_ok_and(|ci| ci == "true")
        {
            panic!("{message}");
        }
        eprintln!("SKIPPED: {message}");
        return None;
    };
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(binary)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto_server starts");
    let moto = Moto {
        child,
        endpoint: format!("http://127.0.0.1:{port}"),
    };
    for _ in 0..300 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some(moto);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("moto_server did not listen on {port} within 15 s");
}

impl Moto {
    /// What moto holds, from its `/moto-api/data.json` (every backend's models).
    pub fn state(&self) -> Value {
        let address = self.endpoint.trim_start_matches("http://");
        let mut stream = std::net::TcpStream::connect(address).unwrap();
        write!(
            stream,
            "GET /moto-api/data.json HTTP/1.0\r\nHost: {address}\r\n\r\n"
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let (_, body) = response.split_once("\r\n\r\n").expect("an HTTP answer");
        serde_json::from_str(body).unwrap()
    }
}

/// An origin of a test distribution: domain name, origin path, and whether it is an S3
/// website endpoint (a custom origin) rather than the REST endpoint.
pub type TestOrigin<'a> = (&'a str, &'a str, bool);

/// The sample site's bucket through its REST endpoint, at its root.
pub const SITE_ORIGIN: TestOrigin<'static> = ("example-site.s3.amazonaws.com", "", false);

/// Creates a distribution with `origins` in whichever account `client`'s credentials are of.
pub async fn create_distribution(
    client: &aws_sdk_cloudfront::Client,
    caller_reference: &str,
    origins: &[TestOrigin<'_>],
    enabled: bool,
) -> String {
    let items: Vec<Origin> = origins
        .iter()
        .enumerate()
        .map(|(i, (domain, origin_path, website))| {
            let origin = Origin::builder()
                .id(format!("origin-{i}"))
                .domain_name(*domain)
                .origin_path(*origin_path);
            let origin = if *website {
                origin.custom_origin_config(
                    CustomOriginConfig::builder()
                        .http_port(80)
                        .https_port(443)
                        .origin_protocol_policy(OriginProtocolPolicy::HttpOnly)
                        .build()
                        .unwrap(),
                )
            } else {
                origin
                    .s3_origin_config(S3OriginConfig::builder().origin_access_identity("").build())
            };
            origin.build().unwrap()
        })
        .collect();
    let config = DistributionConfig::builder()
        .caller_reference(caller_reference)
        .comment("invalidator test")
        .enabled(enabled)
        .origins(
            Origins::builder()
                .quantity(items.len() as i32)
                .set_items(Some(items))
                .build()
                .unwrap(),
        )
        .default_cache_behavior(
            DefaultCacheBehavior::builder()
                .target_origin_id("origin-0")
                .viewer_protocol_policy(ViewerProtocolPolicy::AllowAll)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let created = client
        .create_distribution()
        .distribution_config(config)
        .send()
        .await
        .unwrap();
    created.distribution().unwrap().id().to_owned()
}

/// The paths of every invalidation of `distribution`, one list per invalidation.
pub async fn invalidated_paths(
    client: &aws_sdk_cloudfront::Client,
    distribution: &str,
) -> Vec<Vec<String>> {
    let list = client
        .list_invalidations()
        .distribution_id(distribution)
        .send()
        .await
        .unwrap();
    let mut all = Vec::new();
    for summary in list.invalidation_list().unwrap().items() {
        let got = client
            .get_invalidation()
            .distribution_id(distribution)
            .id(summary.id())
            .send()
            .await
            .unwrap();
        let batch = got.invalidation().unwrap().invalidation_batch().unwrap();
        all.push(batch.paths().unwrap().items().to_vec());
    }
    all
}

/// An SQS message with `body` (JSON, written as a string), as Lambda's SQS event holds it.
pub fn sqs_message(id: &str, body: &Value) -> Value {
    json!({"messageId": id, "body": body.to_string(), "eventSource": "aws:sqs"})
}

/// The ARN Lambda names the queue at `url` by in its SQS events (`eventSourceARN`): the
/// account and name are the URL's last two segments.
pub fn queue_arn(url: &str) -> String {
    let mut segments = url.trim_end_matches('/').rsplit('/');
    let name = segments.next().unwrap();
    let account = segments.next().unwrap();
    format!("arn:aws:sqs:us-east-1:{account}:{name}")
}

/// An SQS message with `body`, as Lambda delivers it from the queue at `url`.
pub fn queue_message(id: &str, body: &Value, url: &str) -> Value {
    let mut message = sqs_message(id, body);
    message["eventSourceARN"] = json!(queue_arn(url));
    message
}

/// Lambda's SQS event for `messages`.
pub fn sqs_event(messages: &[Value]) -> Value {
    json!({ "Records": messages })
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
/// event from that queue.
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
                "eventSourceARN": queue_arn(url),
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
