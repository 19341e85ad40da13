//! The log line and the embedded-format metrics of an invocation: a successful batch, a
//! partial failure, a throttled run and a re-delivery; and the real binary's log output.

use std::process::Stdio;
use std::time::Duration;

use crate::common::*;
use devtools::fake_cloudfront::Fault;
use devtools::runtime_api::RuntimeApi;
use s3_cloudfront_invalidator::outcome::{Outcome, Verdict};
use s3_cloudfront_invalidator::report::counts;
use s3_cloudfront_invalidator::report::{Counts, emf_line};
use s3_cloudfront_invalidator::send::SendError;
use serde_json::Value;

async fn outcome_for(event_name: &str, faults: Vec<Fault>, time: Duration) -> Outcome {
    let fake = fake().await;
    fake.inject(faults);
    let handler = handler(&fake.endpoint(), site_config(DISTRIBUTION));
    handler
        .run_json(&event(event_name), deadline(time))
        .await
        .unwrap()
}

async fn counts_for(event_name: &str, faults: Vec<Fault>, time: Duration) -> (Counts, Verdict) {
    let outcome = outcome_for(event_name, faults, time).await;
    (counts(&outcome), outcome.verdict())
}

#[tokio::test]
async fn successful_batch() {
    let (counts, verdict) = counts_for("sqs-batch.json", vec![], Duration::from_secs(5)).await;
    assert_eq!(verdict, Verdict::Ok);
    assert_eq!(
        counts,
        Counts {
            changed_paths: 9,
            billed_paths: 9,
            invalidations_created: 1,
            ..Counts::default()
        }
    );
}

#[tokio::test]
async fn partial_failure() {
    let (counts, verdict) =
        counts_for("bad-sqs-partial.json", vec![], Duration::from_secs(5)).await;
    assert_eq!(verdict, Verdict::Failed);
    assert_eq!(
        counts,
        Counts {
            changed_paths: 2,
            billed_paths: 2,
            invalidations_created: 1,
            failed_records: 1,
            ..Counts::default()
        }
    );
}

#[tokio::test]
async fn throttled_run() {
    let throttles = (0..1000).map(|_| Fault::Throttle).collect();
    let outcome = outcome_for("s3-put.json", throttles, Duration::from_millis(200)).await;
    let (counts, verdict) = (counts(&outcome), outcome.verdict());
    assert_eq!(verdict, Verdict::RetryLater);
    assert_eq!(counts.invalidations_created, 0);
    assert_eq!(counts.billed_paths, 0);
    assert_eq!(counts.failed_records, 1);
    assert!(counts.retries >= 1, "{counts:?}");
    // Every answer was a throttle; the last attempt either got one too or was cut by the
    // deadline while in flight (on a loaded machine), which is not a throttle.
    let last = outcome
        .errors()
        .map(|(_, error)| error.clone())
        .collect::<Vec<_>>();
    let last_was_throttle = match last.as_slice() {
        [SendError::Throttled(_)] => true,
        [SendError::DeadlineReached] => false,
        other => panic!("unexpected final error: {other:?}"),
    };
    assert_eq!(
        counts.throttles,
        counts.retries + usize::from(last_was_throttle),
        "every answer was a throttle: {counts:?}"
    );
}

#[tokio::test]
async fn redelivery_is_counted_as_reused_and_not_billed() {
    let (_fake, handler) = site().await;
    handler
        .run_json(&event("s3-put.json"), deadline(Duration::from_secs(5)))
        .await
        .unwrap();
    // The fake stamps CreateTime; reuse is recognised by an answer older than the request.
    tokio::time::sleep(Duration::from_millis(5100)).await;
    let outcome = handler
        .run_json(&event("s3-put.json"), deadline(Duration::from_secs(5)))
        .await
        .unwrap();
    let counts = counts(&outcome);
    assert_eq!(
        (
            counts.invalidations_created,
            counts.invalidations_reused,
            counts.billed_paths
        ),
        (0, 1, 0)
    );
}

#[test]
fn emf_line_follows_the_embedded_metric_format() {
    let counts = Counts {
        changed_paths: 3000,
        billed_paths: 3,
        wildcards: 3,
        invalidations_created: 1,
        ..Counts::default()
    };
    let line: Value = serde_json::from_str(&emf_line(
        &counts,
        "Site/Invalidator",
        "fn-name",
        "req-1",
        1_764_000_000_000,
    ))
    .unwrap();
    let directive = &line["_aws"]["CloudWatchMetrics"][0];
    assert_eq!(line["_aws"]["Timestamp"], 1_764_000_000_000u64);
    assert_eq!(directive["Namespace"], "Site/Invalidator");
    assert_eq!(
        directive["Dimensions"],
        serde_json::json!([["FunctionName"]])
    );
    assert_eq!(line["FunctionName"], "fn-name");
    assert_eq!(line["RequestId"], "req-1");
    let names: Vec<&str> = directive["Metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["Name"].as_str().unwrap())
        .collect();
    for name in &names {
        assert!(line[name].is_u64(), "{name} has a value");
    }
    assert_eq!(
        names,
        [
            "BilledPaths",
            "ChangedPaths",
            "DeferredPaths",
            "FailedRecords",
            "InvalidationsCreated",
            "InvalidationsOverdue",
            "InvalidationsReused",
            "InvalidationsUnwatched",
            "RefusedWork",
            "Retries",
            "SkippedRecords",
            "Throttles",
            "Wildcards"
        ]
    );
    assert_eq!(
        (line["ChangedPaths"].as_u64(), line["BilledPaths"].as_u64()),
        (Some(3000), Some(3))
    );
}

/// Runs the binary, invokes it, and returns everything it printed.
async fn binary_output(log_format: &str, events: &[&str], faults: Vec<Fault>) -> Vec<String> {
    let fake = fake().await;
    fake.inject(faults);
    let runtime = RuntimeApi::start().await.unwrap();
    let mut child = runtime
        .function_command(
            env!("CARGO_BIN_EXE_s3-cloudfront-invalidator"),
            &fake.endpoint(),
        )
        .env("AWS_LAMBDA_FUNCTION_NAME", "site-invalidator")
        .env("AWS_LAMBDA_LOG_FORMAT", log_format)
        .env("AWS_LAMBDA_LOG_LEVEL", "INFO")
        .env("AWS_ACCESS_KEY_ID", "AKIDSHOULDNOTLEAK")
        .env("AWS_SECRET_ACCESS_KEY", "secret-should-not-leak")
        .env("AWS_SESSION_TOKEN", "token-should-not-leak")
        .env("DISTRIBUTION_ID", DISTRIBUTION)
        // One path per key, so the counts read here are the keys'.
        .env("INDEX_DOCUMENT", "off")
        .env("METRICS_NAMESPACE", "Test/Invalidator")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = collect_output(&mut child);
    for name in events {
        let body = std::fs::read(format!("{}/events/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap();
        runtime.invoke(body, Duration::from_secs(2)).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let lines = lines.lock().unwrap().clone();
    if std::env::var_os("SHOW_LOGS").is_some() {
        println!("{}", lines.join("\n"));
    }
    lines
}

fn assert_nothing_secret(lines: &[String]) {
    for line in lines {
        for secret in [
            "AKIDSHOULDNOTLEAK",
            "secret-should-not-leak",
            "token-should-not-leak",
            "receiptHandle",
            "x-amz-id-2",
            "sourceIPAddress",
        ] {
            assert!(!line.contains(secret), "{secret} leaked: {line}");
        }
    }
}

#[tokio::test]
async fn json_logs_are_flat_with_the_request_id_and_lists_as_arrays() {
    let lines = binary_output("JSON", &["sqs-batch.json", "bad-sqs-partial.json"], vec![]).await;
    assert_nothing_secret(&lines);
    let parsed: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .collect();
    // Every log line (the EMF lines aside) is flat: what Logs Insights discovers by name.
    for line in parsed.iter().filter(|v| v["_aws"].is_null()) {
        for nested in ["fields", "span", "spans"] {
            assert!(line.get(nested).is_none(), "{nested} in {line}");
        }
        assert!(
            line["level"].is_string() && line["message"].is_string(),
            "{line}"
        );
        let timestamp = line["timestamp"].as_str().unwrap_or_default();
        assert!(
            timestamp.len() == 27 && timestamp.as_bytes()[10] == b'T' && timestamp.ends_with('Z'),
            "RFC 3339 timestamp: {line}"
        );
    }
    let outcomes: Vec<&Value> = parsed
        .iter()
        .filter(|v| v["message"] == "invalidation outcome")
        .collect();
    assert_eq!(outcomes.len(), 2, "{lines:#?}");
    let ok = &outcomes[0];
    assert_eq!(ok["level"], "INFO");
    assert_eq!(ok["requestId"], "req-00000001");
    assert_eq!(ok["outcome"], "ok");
    assert_eq!(ok["billed_paths"], 3);
    assert_eq!(ok["skipped"], serde_json::json!([]));
    let references = ok["caller_references"].as_array().unwrap();
    assert_eq!(references.len(), 1);
    assert!(references[0].as_str().unwrap().starts_with("s3cfi-"));
    let invalidations = ok["invalidations"].as_array().unwrap();
    assert_eq!(invalidations.len(), 1);
    assert!(invalidations[0].as_str().unwrap().starts_with('I'));
    let partial = &outcomes[1];
    assert_eq!(partial["level"], "WARN");
    assert_eq!(partial["requestId"], "req-00000002");
    assert_eq!(partial["failed_records"], 1);
    let failed = partial["failed"]
        .as_array()
        .expect("failed records as an array");
    assert_eq!(failed.len(), 1);
    assert_eq!(
        failed[0]["record"],
        "message 5f2b6a9e-3c1d-4e8f-9a7b-000000000001"
    );
    assert!(
        failed[0]["reason"]
            .as_str()
            .unwrap()
            .starts_with("body is not JSON"),
        "{partial}"
    );
    let metrics: Vec<&Value> = parsed.iter().filter(|v| v["_aws"].is_object()).collect();
    assert_eq!(metrics.len(), 2);
    assert_eq!(metrics[0]["FunctionName"], "site-invalidator");
    assert_eq!(metrics[0]["RequestId"], "req-00000001");
    assert_eq!(
        metrics[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"],
        "Test/Invalidator"
    );
    assert_eq!(
        (
            metrics[1]["FailedRecords"].as_u64(),
            metrics[1]["InvalidationsCreated"].as_u64()
        ),
        (Some(1), Some(1))
    );
}

#[tokio::test]
async fn text_logs_name_the_outcome() {
    let lines = binary_output("Text", &["s3-put.json"], vec![]).await;
    assert_nothing_secret(&lines);
    let outcome = lines
        .iter()
        .find(|l| l.contains("invalidation outcome"))
        .expect("an outcome line");
    assert!(
        outcome.starts_with(" INFO Lambda runtime invoke{requestId=\"req-00000001\""),
        "{outcome}"
    );
    assert!(
        outcome.contains("outcome=\"ok\"") && outcome.contains("billed_paths=1"),
        "{outcome}"
    );
}

#[tokio::test]
async fn throttled_run_is_logged_and_measured() {
    // Throttled for the whole invocation (2 s less the margin): retries, then gives up.
    let throttles = (0..1000).map(|_| Fault::Throttle).collect();
    let lines = binary_output("JSON", &["s3-put.json"], throttles).await;
    assert_nothing_secret(&lines);
    let parsed: Vec<Value> = lines
        .iter()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let retries = parsed
        .iter()
        .filter(|v| v["message"] == "retrying CreateInvalidation")
        .count();
    assert!(retries >= 1, "{lines:#?}");
    let outcome = parsed
        .iter()
        .find(|v| v["message"] == "invalidation outcome")
        .expect("an outcome line");
    assert_eq!(outcome["level"], "WARN");
    assert_eq!(outcome["outcome"], "retry_later");
    assert_eq!(outcome["retries"], retries);
    // The last attempt got a throttle too, unless the deadline cut it while in flight.
    let failed = outcome["failed"]
        .as_array()
        .expect("failed records as an array");
    assert_eq!(failed.len(), 1, "{outcome}");
    let reason = failed[0]["reason"].as_str().unwrap();
    let last_was_throttle = reason.contains("CloudFront is throttling requests");
    assert!(
        last_was_throttle || reason.contains("before the invocation's deadline"),
        "{reason}"
    );
    let throttles = retries + usize::from(last_was_throttle);
    assert_eq!(outcome["throttles"], throttles);
    assert_eq!(outcome["billed_paths"], 0);
    let metrics = parsed
        .iter()
        .find(|v| v["_aws"].is_object())
        .expect("a metrics line");
    assert_eq!(metrics["Throttles"], throttles);
    assert_eq!(metrics["FailedRecords"], 1);
    assert_eq!(metrics["InvalidationsCreated"], 0);
}
