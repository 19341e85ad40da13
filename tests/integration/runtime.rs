//! The real binary, as Lambda runs it: started under a local Runtime API, talking to the
//! CloudFront fake through the standard AWS environment variables.

use std::process::Stdio;
use std::time::Duration;

use crate::common::*;
use devtools::fake_cloudfront::FakeCloudFront;
use devtools::runtime_api::{Reply, RuntimeApi};
use serde_json::Value;
use tokio::process::Child;

fn function(runtime: &RuntimeApi, fake: &FakeCloudFront, extra: &[(&str, &str)]) -> Child {
    let mut command = runtime.function_command(
        env!("CARGO_BIN_EXE_s3-cloudfront-invalidator"),
        &fake.endpoint(),
    );
    command
        .env("DISTRIBUTION_ID", DISTRIBUTION)
        .env("SOURCE_BUCKET", "example-site")
        .env("INDEX_DOCUMENT", "index.html")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (name, value) in extra {
        command.env(name, value);
    }
    command.spawn().expect("function binary starts")
}

fn sample(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/events/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

#[tokio::test]
async fn binary_serves_events_and_survives_bad_ones() {
    let fake = fake().await;
    let runtime = RuntimeApi::start().await.unwrap();
    let _function = function(&runtime, &fake, &[]);
    let timeout = Duration::from_secs(10);

    let put = runtime
        .invoke(sample("s3-put.json"), timeout)
        .await
        .unwrap();
    let Reply::Response(body) = put.reply else {
        panic!("{:?}", put.reply)
    };
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        answer["invalidations"][0]["id"],
        fake.invalidations()[0].id.as_str()
    );

    for bad in ["bad-not-json.txt", "bad-other-service.json"] {
        let invoked = runtime.invoke(sample(bad), timeout).await.unwrap();
        assert!(
            matches!(invoked.reply, Reply::Error(_)),
            "{bad}: {:?}",
            invoked.reply
        );
    }
    let Reply::Error(error) = runtime
        .invoke(sample("bad-other-service.json"), timeout)
        .await
        .unwrap()
        .reply
    else {
        unreachable!()
    };
    let error: Value = serde_json::from_str(&error).unwrap();
    assert_eq!(error["errorType"], "EventNotRecognised");

    // Still serving, and the re-delivered put creates nothing new.
    let again = runtime
        .invoke(sample("s3-put.json"), timeout)
        .await
        .unwrap();
    assert!(matches!(again.reply, Reply::Response(_)));
    let sqs = runtime
        .invoke(sample("bad-sqs-partial.json"), timeout)
        .await
        .unwrap();
    let Reply::Response(body) = sqs.reply else {
        panic!("{:?}", sqs.reply)
    };
    assert!(
        body.contains(
            "\"batchItemFailures\":[{\"itemIdentifier\":\"5f2b6a9e-3c1d-4e8f-9a7b-000000000001\"}]"
        ),
        "{body}"
    );
    assert_eq!(fake.invalidations().len(), 2);
}

#[tokio::test]
async fn invalid_configuration_stops_start_up_with_one_line() {
    let fake = fake().await;
    let runtime = RuntimeApi::start().await.unwrap();
    let function = function(&runtime, &fake, &[("DISTRIBUTION_ID", "not-an-id")]);
    assert_eq!(
        refused_start_up(function, Duration::from_secs(10)).await,
        "invalid configuration: DISTRIBUTION_ID \"not-an-id\" is not a CloudFront distribution id (upper-case letters and digits, like E2QWRUHAPOMQZL), nor auto"
    );
}

#[tokio::test]
async fn outside_lambda_it_says_what_to_run_instead() {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_s3-cloudfront-invalidator"))
        .env_clear()
        .env("DISTRIBUTION_ID", DISTRIBUTION)
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    assert_eq!(
        String::from_utf8(output.stderr).unwrap(),
        format!("{}\n", s3_cloudfront_invalidator::cli::NOT_IN_LAMBDA)
    );
}

#[tokio::test]
async fn a_misspelled_setting_is_logged_with_the_one_meant() {
    let fake = fake().await;
    let runtime = RuntimeApi::start().await.unwrap();
    let mut command = runtime.function_command(
        env!("CARGO_BIN_EXE_s3-cloudfront-invalidator"),
        &fake.endpoint(),
    );
    command
        .env("DISTRIBUTION_ID", DISTRIBUTION)
        .env("SKIP_KEY", "static/**")
        .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut function = command.spawn().unwrap();
    let lines = collect_output(&mut function);
    // Once an event is answered, start-up (and its warnings) is over.
    let put = runtime
        .invoke(sample("s3-put.json"), Duration::from_secs(10))
        .await
        .unwrap();
    assert!(matches!(put.reply, Reply::Response(_)), "{:?}", put.reply);
    let warnings = || -> Vec<Value> {
        lines
            .lock()
            .unwrap()
            .iter()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|line| line["level"] == "WARN")
            .collect()
    };
    // Written before the answer; the reader may still be on its way to it.
    for _ in 0..500 {
        if !warnings().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let warnings = warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(
        warnings[0]["message"],
        "SKIP_KEY is not a setting, and is ignored: did you mean SKIP_KEYS?"
    );
}
