//! One test per row of the README's bad-input table: the exact outcome of each kind of
//! bad input, through the handler over HTTP (fake CloudFront) or the real binary.

use std::process::Stdio;
use std::time::Duration;

use crate::common::*;
use devtools::runtime_api::{Reply, RuntimeApi};
use s3_cloudfront_invalidator::handler::HandlerError;
use serde_json::{Value, json};

/// A direct event holding one bad record and one good one, and the same record in an SQS batch.
async fn assert_record_rejected(bad_record: Value, reason: &str) {
    let (fake, handler) = site().await;
    let good = event("s3-put.json")["Records"][0].clone();
    let direct = json!({ "Records": [bad_record.clone(), good.clone()] });
    let error = handler
        .handle_json(&direct, deadline(Duration::from_secs(5)))
        .await
        .unwrap_err();
    assert!(matches!(error, HandlerError::Failed { .. }), "{error:?}");
    assert!(error.to_string().contains("Records[0]"), "{error}");
    assert!(error.to_string().contains(reason), "{error}");
    assert_eq!(
        fake.invalidations().len(),
        1,
        "the good record is still invalidated"
    );

    let mut sqs = event("sqs-batch.json");
    sqs["Records"][1]["body"] = json!(json!({ "Records": [bad_record] }).to_string());
    let answer = handler
        .handle_json(&sqs, deadline(Duration::from_secs(5)))
        .await
        .unwrap();
    assert_eq!(
        answer,
        json!({"batchItemFailures": [{"itemIdentifier": "5f2b6a9e-3c1d-4e8f-9a7b-000000000001"}]})
    );
}

#[tokio::test]
async fn not_json() {
    let fake = fake().await;
    let runtime = RuntimeApi::start().await.unwrap();
    let _function = runtime
        .function_command(
            env!("CARGO_BIN_EXE_s3-cloudfront-invalidator"),
            &fake.endpoint(),
        )
        .env("DISTRIBUTION_ID", DISTRIBUTION)
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let invoked = runtime
        .invoke("this is not an event", Duration::from_secs(10))
        .await
        .unwrap();
    let Reply::Error(body) = invoked.reply else {
        panic!("{:?}", invoked.reply)
    };
    let error: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(error["errorType"], "EventNotJson", "{error}");
    assert_eq!(
        error["errorMessage"],
        "event is not JSON: expected ident at line 1 column 2"
    );
}

#[tokio::test]
async fn json_of_another_service() {
    let (fake, handler) = site().await;
    let error = handle_sample(&handler, "bad-other-service.json")
        .await
        .unwrap_err();
    let message = error.to_string();
    assert!(
        message
            .starts_with("event is not an S3 change: expected Records[] of S3, SQS or SNS records"),
        "{message}"
    );
    assert!(
        message.contains("got an object with keys [\"body\", \"headers\""),
        "{message}"
    );
    assert_eq!(
        lambda_runtime::Diagnostic::from(error).error_type,
        "EventNotRecognised"
    );
    assert!(fake.received().is_empty());
}

#[tokio::test]
async fn s3_record_missing_fields() {
    let mut record = event("s3-put.json")["Records"][0].clone();
    record["s3"]["object"]
        .as_object_mut()
        .unwrap()
        .remove("key");
    assert_record_rejected(record, "S3 record has no s3.bucket.name or s3.object.key").await;
    let mut record = event("s3-put.json")["Records"][0].clone();
    record.as_object_mut().unwrap().remove("s3");
    assert_record_rejected(record, "not an S3 or SNS record (no s3 field)").await;
    let mut record = event("s3-put.json")["Records"][0].clone();
    record.as_object_mut().unwrap().remove("eventName");
    assert_record_rejected(record, "S3 record has no eventName").await;
    let mut record = event("s3-put.json")["Records"][0].clone();
    record["s3"]["object"]["sequencer"] = json!(42);
    assert_record_rejected(
        record,
        "S3 record is malformed: s3.object.sequencer is not a string",
    )
    .await;
}

/// Other emitters (moto, S3-compatible stores) leave out fields the function never uses.
#[tokio::test]
async fn s3_record_without_unused_fields_is_invalidated() {
    let (fake, handler) = site().await;
    let mut record = event("s3-put.json")["Records"][0].clone();
    for field in [
        "userIdentity",
        "requestParameters",
        "responseElements",
        "eventTime",
    ] {
        record.as_object_mut().unwrap().remove(field);
    }
    let object = record["s3"]["object"].as_object_mut().unwrap();
    for field in ["sequencer", "size", "eTag"] {
        object.remove(field);
    }
    handler
        .handle_json(
            &json!({ "Records": [record] }),
            deadline(Duration::from_secs(5)),
        )
        .await
        .unwrap();
    assert_eq!(fake.invalidations()[0].paths, ["/", "/index.html"]);
}

#[tokio::test]
async fn undecodable_key() {
    let mut record = event("s3-put.json")["Records"][0].clone();
    record["s3"]["object"]["key"] = json!("bad%zzkey.html");
    assert_record_rejected(
        record,
        "key \"bad%zzkey.html\" has a malformed percent-escape at byte 3",
    )
    .await;
    let mut record = event("s3-put.json")["Records"][0].clone();
    record["s3"]["object"]["key"] = json!("%FF.html");
    assert_record_rejected(record, "key \"%FF.html\" is not UTF-8 once decoded").await;
}

#[tokio::test]
async fn key_too_long_once_encoded() {
    let record = event("bad-key-too-long.json")["Records"][0].clone();
    assert_record_rejected(
        record,
        "characters once encoded; CloudFront accepts at most 4000",
    )
    .await;
}

#[tokio::test]
async fn empty_key() {
    let record = event("bad-empty-key.json")["Records"][0].clone();
    assert_record_rejected(record, "object key is empty").await;
}

#[tokio::test]
async fn sqs_body_not_json() {
    let (fake, handler) = site().await;
    let answer = handle_sample(&handler, "bad-sqs-partial.json")
        .await
        .unwrap();
    assert_eq!(
        answer,
        json!({"batchItemFailures": [{"itemIdentifier": "5f2b6a9e-3c1d-4e8f-9a7b-000000000001"}]})
    );
    assert_eq!(
        fake.invalidations()[0].paths,
        ["/good/one.html", "/good/two.html"]
    );
}

#[tokio::test]
async fn bucket_no_route_covers() {
    let (fake, handler) = site().await;
    let answer = handle_sample(&handler, "bad-unrouted-bucket.json")
        .await
        .unwrap();
    assert_eq!(
        answer["skipped"],
        json!([{
            "record": "Records[0] s3://some-other-bucket/index.html",
            "reason": "no route covers s3://some-other-bucket/index.html (check SOURCE_BUCKET, KEY_PREFIX or ROUTES)"
        }])
    );
    assert!(fake.received().is_empty());
}

#[test]
fn missing_or_invalid_configuration() {
    let run = |vars: &[(&str, &str)]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_s3-cloudfront-invalidator"))
            .env_clear()
            .envs(vars.iter().copied())
            .env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9")
            .output()
            .unwrap();
        (
            output.status.code(),
            String::from_utf8(output.stderr).unwrap(),
        )
    };
    let (status, stderr) = run(&[]);
    assert_eq!(status, Some(2));
    assert_eq!(
        stderr.trim(),
        "invalid configuration: DISTRIBUTION_ID is not set: set it to the id of the CloudFront distribution to invalidate (like E2QWRUHAPOMQZL), to auto to find them from SOURCE_BUCKET, or set ROUTES"
    );
    let (status, stderr) = run(&[("DISTRIBUTION_ID", "EA"), ("SKIP_KEYS", "static/**,a[")]);
    assert_eq!(status, Some(2));
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr
            .starts_with("invalid configuration: SKIP_KEYS pattern \"a[\" is not a glob pattern ("),
        "{stderr}"
    );
    let (status, stderr) = run(&[("DISTRIBUTION_ID", "EA"), ("EXTERNAL_ID", "site-4f1c")]);
    assert_eq!(status, Some(2));
    assert_eq!(
        stderr.trim(),
        "invalid configuration: EXTERNAL_ID is set without a role ARN: give the role whose trust policy asks for it, or remove the external id"
    );
    let (status, stderr) = run(&[("DISTRIBUTION_ID", "EA"), ("WILDCARD_BUDGET", "99")]);
    assert_eq!(status, Some(2));
    assert_eq!(
        stderr.trim(),
        "invalid configuration: WILDCARD_BUDGET \"99\" is not a whole number from 0 to 15"
    );
}
