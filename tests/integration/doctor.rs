//! `doctor` as an operator runs it: the real binary, settings in its environment, moto
//! standing in for S3, SQS, EventBridge and CloudFront. Where moto cannot answer (it never
//! returns a bucket's `EventBridgeConfiguration`), devtools' S3 fake answers as AWS documents.

use std::process::{Command, Output};

use aws_sdk_s3::types::{
    BucketLocationConstraint, CreateBucketConfiguration, Event, NotificationConfiguration,
    QueueConfiguration,
};
use aws_sdk_sqs::types::QueueAttributeName;
use devtools::fake_s3::{Bucket, FakeS3};

use crate::common::*;

const ACCOUNT: &str = "123456789012";

fn queue_arn(name: &str) -> String {
    format!("arn:aws:sqs:us-east-1:{ACCOUNT}:{name}")
}

/// `doctor` with `settings` (and moto's endpoint and test credentials) as its environment.
fn doctor(endpoint: &str, settings: &[(&str, &str)]) -> (Option<i32>, Vec<String>) {
    doctor_with(&[], endpoint, settings)
}

fn doctor_with(
    args: &[&str],
    endpoint: &str,
    settings: &[(&str, &str)],
) -> (Option<i32>, Vec<String>) {
    let output: Output = Command::new(env!("CARGO_BIN_EXE_s3-cloudfront-invalidator"))
        .arg("doctor")
        .args(args)
        .env_clear()
        .envs([
            ("AWS_ENDPOINT_URL", endpoint),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "AKIDTEST"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
        ])
        .envs(settings.iter().copied())
        .output()
        .unwrap();
    assert!(
        output.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    (output.status.code(), lines)
}

/// The one line about `subject`.
fn line<'a>(lines: &'a [String], subject: &str) -> &'a str {
    let found: Vec<&String> = lines
        .iter()
        .filter(|line| line[5..].starts_with(subject))
        .collect();
    assert_eq!(found.len(), 1, "{subject}: {lines:#?}");
    found[0]
}

fn s3(endpoint: &str, region: &str) -> aws_sdk_s3::Client {
    let config = sdk_config(endpoint)
        .to_builder()
        .region(aws_config::Region::new(region.to_owned()))
        .build();
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    )
}

async fn create_bucket(endpoint: &str, name: &str, region: &str) -> aws_sdk_s3::Client {
    let client = s3(endpoint, region);
    let mut create = client.create_bucket().bucket(name);
    if region != "us-east-1" {
        create = create.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(region))
                .build(),
        );
    }
    create.send().await.unwrap();
    client
}

/// Sends the bucket's creations and removals to `queue`, as the stack's own bucket does.
async fn notify_queue(client: &aws_sdk_s3::Client, bucket: &str, queue: &str) {
    let to_queue = QueueConfiguration::builder()
        .queue_arn(queue_arn(queue))
        .events(Event::from("s3:ObjectCreated:*"))
        .events(Event::from("s3:ObjectRemoved:*"))
        .build()
        .unwrap();
    client
        .put_bucket_notification_configuration()
        .bucket(bucket)
        .notification_configuration(
            NotificationConfiguration::builder()
                .queue_configurations(to_queue)
                .build(),
        )
        .send()
        .await
        .unwrap();
}

/// The stack's queues: a buffer queue whose dead-letter queue is `failures`.
async fn queues(endpoint: &str) -> (aws_sdk_sqs::Client, String, String) {
    let (sqs, failures) = sqs_queue(endpoint, "failures").await;
    let redrive =
        serde_json::json!({"deadLetterTargetArn": queue_arn("failures"), "maxReceiveCount": 5});
    let buffer = sqs
        .create_queue()
        .queue_name("buffer")
        .attributes(QueueAttributeName::RedrivePolicy, redrive.to_string())
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_owned();
    (sqs, buffer, failures)
}

async fn cloudfront_with(
    endpoint: &str,
    origins: &[TestOrigin<'_>],
) -> (aws_sdk_cloudfront::Client, String) {
    let client = aws_sdk_cloudfront::Client::new(&sdk_config(endpoint));
    let id = create_distribution(&client, "doctor", origins, true).await;
    (client, id)
}

#[tokio::test]
async fn a_stack_with_its_own_bucket_passes_every_check() {
    let Some(moto) = start_moto().await else {
        return;
    };
    let (_sqs, buffer, _) = queues(&moto.endpoint).await;
    let s3 = create_bucket(&moto.endpoint, "example-site", "us-east-1").await;
    notify_queue(&s3, "example-site", "buffer").await;
    let (cloudfront, distribution) = cloudfront_with(&moto.endpoint, &[SITE_ORIGIN]).await;
    let paths = aws_sdk_cloudfront::types::Paths::builder()
        .quantity(1)
        .items("/index.html")
        .build()
        .unwrap();
    let made = cloudfront
        .create_invalidation()
        .distribution_id(&distribution)
        .invalidation_batch(
            aws_sdk_cloudfront::types::InvalidationBatch::builder()
                .paths(paths)
                .caller_reference("s3cfi-0123456789abcdef")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let invalidation_id = made.invalidation().unwrap().id().to_owned();

    let (status, lines) = doctor(
        &moto.endpoint,
        &[
            ("DISTRIBUTION_ID", &distribution),
            ("SOURCE_BUCKET", "example-site"),
            ("DEFER_QUEUE_URL", &buffer),
        ],
    );
    assert_eq!(status, Some(0), "{lines:#?}");
    assert!(
        lines.iter().all(|line| !line.starts_with("FAIL")),
        "{lines:#?}"
    );
    assert_eq!(
        line(&lines, "bucket example-site"),
        "ok   bucket example-site: in us-east-1, the function's region"
    );
    assert_eq!(
        line(&lines, "notifications of bucket example-site"),
        format!(
            "ok   notifications of bucket example-site: objects created and removed are sent to {}",
            queue_arn("buffer")
        )
    );
    assert_eq!(
        line(&lines, &format!("distribution {distribution}")),
        format!(
            "ok   distribution {distribution}: serves bucket example-site through example-site.s3.amazonaws.com"
        )
    );
    assert_eq!(
        line(&lines, "failure queue"),
        format!("ok   failure queue {}: empty", queue_arn("failures"))
    );
    let last = line(&lines, &format!("invalidations of {distribution}"));
    assert!(
        last.starts_with(&format!(
            "info invalidations of {distribution}: the function's last is {invalidation_id} ("
        )) && last.ends_with(", 1 path(s))"),
        "{last}"
    );
}

/// An existing bucket reaches the function through EventBridge: moto keeps the rule and the
/// queue, the fake answers for the bucket (moto leaves `EventBridgeConfiguration` out). The
/// fake serves from the runtime's other threads while doctor runs.
#[tokio::test(flavor = "multi_thread")]
async fn an_existing_bucket_through_eventbridge_passes() {
    let Some(moto) = start_moto().await else {
        return;
    };
    let (_sqs, buffer, _) = queues(&moto.endpoint).await;
    let events = aws_sdk_eventbridge::Client::new(&sdk_config(&moto.endpoint));
    let pattern = serde_json::json!({
        "source": ["aws.s3"],
        "detail-type": ["Object Created", "Object Deleted"],
        "detail": {"bucket": {"name": ["example-site"]}}
    });
    events
        .put_rule()
        .name("site-changes")
        .event_pattern(pattern.to_string())
        .send()
        .await
        .unwrap();
    events
        .put_targets()
        .rule("site-changes")
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("invalidator")
                .arn(queue_arn("buffer"))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let (_, distribution) = cloudfront_with(&moto.endpoint, &[SITE_ORIGIN]).await;
    let fake = FakeS3::start(vec![Bucket {
        name: "example-site".into(),
        region: "us-east-1".into(),
        eventbridge: true,
    }])
    .await
    .unwrap();
    let settings: [(&str, &str); 4] = [
        ("DISTRIBUTION_ID", &distribution),
        ("SOURCE_BUCKET", "example-site"),
        ("DEFER_QUEUE_URL", &buffer),
        ("AWS_ENDPOINT_URL_S3", &fake.endpoint()),
    ];
    let (status, lines) = doctor(&moto.endpoint, &settings);
    assert_eq!(status, Some(0), "{lines:#?}");
    assert_eq!(
        line(&lines, "notifications of bucket example-site"),
        format!(
            "ok   notifications of bucket example-site: EventBridge notifications are on, and rule site-changes sends them to {}",
            queue_arn("buffer")
        )
    );

    // The same bucket with EventBridge off: the fix turns it on without losing the rest.
    let off = FakeS3::start(vec![Bucket {
        name: "example-site".into(),
        region: "us-east-1".into(),
        eventbridge: false,
    }])
    .await
    .unwrap();
    let mut settings = settings.to_vec();
    let endpoint = off.endpoint();
    settings[3] = ("AWS_ENDPOINT_URL_S3", &endpoint);
    let (status, lines) = doctor(&moto.endpoint, &settings);
    assert_eq!(status, Some(1));
    assert_eq!(
        line(&lines, "notifications of bucket example-site"),
        format!(
            "FAIL notifications of bucket example-site: neither reach the function ({}) nor go to EventBridge: no change is ever invalidated -- fix: (aws s3api get-bucket-notification-configuration --bucket example-site --region us-east-1; echo '{{}}') | jq -s '.[0] + {{EventBridgeConfiguration: {{}}}}' > notification.json && aws s3api put-bucket-notification-configuration --bucket example-site --region us-east-1 --notification-configuration file://notification.json",
            queue_arn("buffer")
        )
    );
}

#[tokio::test]
async fn a_bucket_in_another_region_is_found() {
    let Some(moto) = start_moto().await else {
        return;
    };
    create_bucket(&moto.endpoint, "eu-site", "eu-west-1").await;
    let (_, distribution) = cloudfront_with(
        &moto.endpoint,
        &[("eu-site.s3.eu-west-1.amazonaws.com", "", false)],
    )
    .await;
    let (status, lines) = doctor(
        &moto.endpoint,
        &[
            ("DISTRIBUTION_ID", &distribution),
            ("SOURCE_BUCKET", "eu-site"),
        ],
    );
    assert_eq!(status, Some(1));
    assert_eq!(
        line(&lines, "bucket eu-site"),
        "FAIL bucket eu-site: in eu-west-1, but the function is in us-east-1: S3 delivers notifications and EventBridge events only within the bucket's region, so nothing reaches the function -- fix: sam deploy --region eu-west-1"
    );
    assert!(line(&lines, &format!("distribution {distribution}")).starts_with("ok "));
}

#[tokio::test]
async fn notifications_that_miss_the_function_and_waiting_failures_are_found() {
    let Some(moto) = start_moto().await else {
        return;
    };
    let (sqs, buffer, failures) = queues(&moto.endpoint).await;
    sqs_queue(&moto.endpoint, "elsewhere").await;
    let s3 = create_bucket(&moto.endpoint, "example-site", "us-east-1").await;
    notify_queue(&s3, "example-site", "elsewhere").await;
    sqs.send_message()
        .queue_url(&failures)
        .message_body("{}")
        .send()
        .await
        .unwrap();
    let (_, distribution) = cloudfront_with(&moto.endpoint, &[SITE_ORIGIN]).await;
    let (status, lines) = doctor(
        &moto.endpoint,
        &[
            ("DISTRIBUTION_ID", &distribution),
            ("SOURCE_BUCKET", "example-site"),
            ("DEFER_QUEUE_URL", &buffer),
            ("CLEAN_URL", "true"),
        ],
    );
    assert_eq!(status, Some(1));
    assert_eq!(
        line(&lines, "setting CLEAN_URL"),
        "FAIL setting CLEAN_URL: CLEAN_URL is not a setting, and is ignored: did you mean CLEAN_URLS? -- fix: unset CLEAN_URL && export CLEAN_URLS=true"
    );
    let notifications = line(&lines, "notifications of bucket example-site");
    assert!(
        notifications.starts_with(&format!(
            "FAIL notifications of bucket example-site: neither reach the function ({}) nor go to EventBridge",
            queue_arn("buffer")
        )),
        "{notifications}"
    );
    assert!(notifications.contains("-- fix: (aws s3api get-bucket-notification-configuration"));
    assert_eq!(
        line(&lines, "failure queue"),
        format!(
            "FAIL failure queue {}: 1 event(s) the function could not process wait here -- fix: fix the cause (the function's log), then aws sqs start-message-move-task --source-arn {} --destination-arn {}",
            queue_arn("failures"),
            queue_arn("failures"),
            queue_arn("buffer")
        )
    );
}

#[tokio::test]
async fn a_distribution_that_does_not_serve_the_bucket_is_found_with_the_one_that_does() {
    let Some(moto) = start_moto().await else {
        return;
    };
    let s3 = create_bucket(&moto.endpoint, "example-site", "us-east-1").await;
    let (_, other) = cloudfront_with(
        &moto.endpoint,
        &[("other-site.s3.amazonaws.com", "", false)],
    )
    .await;
    let client = aws_sdk_cloudfront::Client::new(&sdk_config(&moto.endpoint));
    let serving = create_distribution(
        &client,
        "serving",
        &[("example-site.s3.amazonaws.com", "/www", false)],
        true,
    )
    .await;
    drop(s3);
    let (status, lines) = doctor(
        &moto.endpoint,
        &[
            ("DISTRIBUTION_ID", &other),
            ("SOURCE_BUCKET", "example-site"),
        ],
    );
    assert_eq!(status, Some(1));
    assert_eq!(
        line(&lines, &format!("distribution {other}")),
        format!(
            "FAIL distribution {other}: has no origin in bucket example-site (its origins: other-site.s3.amazonaws.com): nothing the function invalidates is served by it -- fix: export DISTRIBUTION_ID={serving}"
        )
    );

    // The right distribution, but keys read from the bucket's root.
    let (status, lines) = doctor(
        &moto.endpoint,
        &[
            ("DISTRIBUTION_ID", &serving),
            ("SOURCE_BUCKET", "example-site"),
        ],
    );
    assert_eq!(status, Some(1));
    assert_eq!(
        line(&lines, &format!("distribution {serving}")),
        format!(
            "FAIL distribution {serving}: serves bucket example-site through example-site.s3.amazonaws.com with origin path \"/www\", which needs KEY_PREFIX \"www/\" (with PATH_PREFIX \"\"), not \"\": the paths invalidated are not those served -- fix: export KEY_PREFIX=www/"
        )
    );

    let (status, lines) = doctor(
        &moto.endpoint,
        &[
            ("DISTRIBUTION_ID", "ENOSUCHDIST"),
            ("SOURCE_BUCKET", "example-site"),
        ],
    );
    assert_eq!(status, Some(1));
    let missing = line(&lines, "distribution ENOSUCHDIST");
    assert!(
        missing.starts_with("FAIL distribution ENOSUCHDIST: cannot be read: NoSuchDistribution")
            && missing.ends_with(&format!("-- fix: export DISTRIBUTION_ID={serving}")),
        "{missing}"
    );
}

/// A Direct-mode function of stack `site`, made in moto by devtools' boto3 driver (moto wants
/// an IAM role first, which no SDK crate of the project's makes).
fn create_function(endpoint: &str, name: &str, environment: serde_json::Value) -> String {
    use std::io::Write;
    let python = moto_binary().unwrap().with_file_name("python");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/devtools/moto_lambda_function.py"
    );
    let mut child = Command::new(python)
        .args([script, endpoint, name])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let settings = serde_json::json!({
        "environment": environment, "stack": "site", "on_failure": queue_arn("failures")
    });
    child
        .stdin
        .take()
        .unwrap()
        .write_all(settings.to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "the moto driver failed");
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

#[tokio::test]
async fn the_deployed_functions_settings_are_read_with_function() {
    let Some(moto) = start_moto().await else {
        return;
    };
    let (sqs, failures) = sqs_queue(&moto.endpoint, "failures").await;
    let (_, distribution) = cloudfront_with(&moto.endpoint, &[SITE_ORIGIN]).await;
    let arn = create_function(
        &moto.endpoint,
        "site-invalidator",
        serde_json::json!({
            "DISTRIBUTION_ID": distribution, "SOURCE_BUCKET": "example-site", "KEY_PREFIX": "www/"
        }),
    );
    let s3 = create_bucket(&moto.endpoint, "example-site", "us-east-1").await;
    let to_function = aws_sdk_s3::types::LambdaFunctionConfiguration::builder()
        .lambda_function_arn(&arn)
        .events(Event::from("s3:ObjectCreated:*"))
        .events(Event::from("s3:ObjectRemoved:*"))
        .build()
        .unwrap();
    s3.put_bucket_notification_configuration()
        .bucket("example-site")
        .notification_configuration(
            NotificationConfiguration::builder()
                .lambda_function_configurations(to_function)
                .build(),
        )
        .send()
        .await
        .unwrap();
    sqs.send_message()
        .queue_url(&failures)
        .message_body("{}")
        .send()
        .await
        .unwrap();
    // Nothing in the operator's environment but another region: every setting is the
    // function's, and --region is where it is.
    let (status, lines) = doctor_with(
        &["--function", "site-invalidator", "--region", "us-east-1"],
        &moto.endpoint,
        &[("AWS_REGION", "eu-west-1")],
    );
    assert_eq!(status, Some(1));
    assert_eq!(
        line(&lines, "function site-invalidator"),
        format!("ok   function site-invalidator: 3 settings read from {arn}")
    );
    assert_eq!(
        line(&lines, "notifications of bucket example-site"),
        format!(
            "ok   notifications of bucket example-site: objects created and removed are sent to {arn}"
        )
    );
    // The fixes are for the stack the function belongs to.
    assert!(
        line(&lines, &format!("distribution {distribution}")).ends_with(
            r#"-- fix: sam deploy --stack-name site --region us-east-1 --parameter-overrides 'KeyPrefix=""'"#
        ),
        "{lines:#?}"
    );
    assert_eq!(
        line(&lines, "failure queue"),
        format!(
            "FAIL failure queue {}: 1 event(s) the function could not process wait here -- fix: fix the cause (each message's responseContext), then read them with aws sqs receive-message --queue-url {failures} --max-number-of-messages 10 and replay each requestPayload with aws lambda invoke (docs/cli.md)",
            queue_arn("failures")
        )
    );
}
