//! The handler over real HTTP against the faithful CloudFront fake on loopback.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::common::*;
use devtools::fake_cloudfront::{Answer, FakeCloudFront, Fault, ReplayAnswer};
use s3_cloudfront_invalidator::handler::HandlerError;
use serde_json::json;

fn created(fake: &FakeCloudFront) -> Vec<Vec<String>> {
    fake.invalidations().into_iter().map(|i| i.paths).collect()
}

#[tokio::test]
async fn put_event_creates_one_invalidation_with_encoded_paths() {
    let (fake, handler) = site().await;
    let answer = handle_sample(&handler, "s3-special-keys.json")
        .await
        .unwrap();
    assert_eq!(
        created(&fake),
        [[
            "/blog/caf%C3%A9/men%C3%BC.html",
            "/docs/getting%20started.html",
            "/docs/getting+started.html",
            "/downloads/c%2B%2B%20guide.pdf",
            "/downloads/c%2B%2B+guide.pdf",
            "/downloads/c++%20guide.pdf",
            "/people/*",
            "/reports/100%25%20done%3F.html",
            "/reports/100%25+done%3F.html",
        ]]
    );
    let sent = &answer["invalidations"][0];
    assert_eq!(sent["id"], json!(fake.invalidations()[0].id));
    assert_eq!(sent["status"], json!("InProgress"));
    assert_eq!(sent["paths"], json!(9));
}

#[tokio::test]
async fn retried_event_yields_exactly_one_invalidation() {
    let (fake, handler) = site().await;
    let event = event("s3-several-records.json");
    let first = handler
        .handle_json(&event, deadline(Duration::from_secs(5)))
        .await
        .unwrap();
    let second = handler
        .handle_json(&event, deadline(Duration::from_secs(5)))
        .await
        .unwrap();
    assert_eq!(fake.invalidations().len(), 1);
    assert_eq!(
        first["invalidations"][0]["id"],
        second["invalidations"][0]["id"]
    );
    let answers: Vec<Answer> = fake.received().into_iter().map(|r| r.answer).collect();
    assert!(
        matches!(answers.as_slice(), [Answer::Created(a), Answer::Reused(b)] if a == b),
        "{answers:?}"
    );
}

#[tokio::test]
async fn transient_faults_are_retried_with_the_same_reference_and_paths() {
    let faults = [
        Fault::Throttle,
        Fault::error(400, "TooManyInvalidationsInProgress"),
        Fault::error(500, "InternalError"),
        Fault::error(503, "ServiceUnavailable"),
        Fault::Reset,
        Fault::TruncatedXml,
        Fault::MalformedXml,
    ];
    for fault in faults {
        let fake = fake().await;
        fake.inject([fault.clone(), fault.clone()]);
        let handler = handler(&fake.endpoint(), site_config(DISTRIBUTION));
        let answer = handle_sample(&handler, "s3-put.json").await;
        assert!(answer.is_ok(), "{fault:?}: {answer:?}");
        let received = fake.received();
        assert_eq!(received.len(), 3, "{fault:?}: two faults then success");
        let batches: BTreeSet<(String, Vec<String>)> = received
            .iter()
            .map(|r| (r.caller_reference.clone(), r.paths.clone()))
            .collect();
        assert_eq!(
            batches.len(),
            1,
            "{fault:?}: every attempt carries the same batch"
        );
        assert_eq!(created(&fake), [["/", "/index.html"]], "{fault:?}");
    }
}

#[tokio::test]
async fn permanent_errors_say_what_to_fix() {
    let cases = [
        (
            Fault::error(403, "AccessDenied"),
            "cloudfront:CreateInvalidation on arn:aws:cloudfront::ACCOUNT_ID:distribution/EDFDVBD6EXAMPLE",
        ),
        (
            Fault::error(400, "InconsistentQuantities"),
            "(InconsistentQuantities)",
        ),
        (Fault::error(400, "BatchTooLarge"), "(BatchTooLarge)"),
        (Fault::error(400, "MissingBody"), "(MissingBody)"),
    ];
    for (fault, expected) in cases {
        let fake = fake().await;
        fake.inject([fault.clone()]);
        let handler = handler(&fake.endpoint(), site_config(DISTRIBUTION));
        let error = handle_sample(&handler, "s3-put.json").await.unwrap_err();
        assert!(
            matches!(error, HandlerError::Failed { .. }),
            "{fault:?}: {error:?}"
        );
        assert!(error.to_string().contains(expected), "{fault:?}: {error}");
        assert_eq!(fake.received().len(), 1, "{fault:?} is not retried");
    }
}

#[tokio::test]
async fn unknown_distribution_names_the_setting() {
    let fake = fake().await;
    let handler = handler(&fake.endpoint(), site_config("ENOSUCHDIST"));
    let error = handle_sample(&handler, "s3-put.json").await.unwrap_err();
    assert!(
        error.to_string().contains(
            "distribution ENOSUCHDIST does not exist (NoSuchDistribution): check DISTRIBUTION_ID"
        ),
        "{error}"
    );
}

#[tokio::test]
async fn persistent_throttling_fails_before_the_deadline_so_lambda_retries() {
    let fake = fake().await;
    fake.inject((0..1000).map(|_| Fault::Throttle));
    let handler = handler(&fake.endpoint(), site_config(DISTRIBUTION));
    let started = std::time::Instant::now();
    let error = handler
        .handle_json(&event("s3-put.json"), deadline(Duration::from_millis(300)))
        .await
        .unwrap_err();
    // An attempt in flight is cut at the deadline; DEADLINE_MARGIN (500 ms) covers the answer
    // after it, and the slack here absorbs a loaded machine's scheduling.
    assert!(
        started.elapsed() < Duration::from_millis(450),
        "{:?}",
        started.elapsed()
    );
    assert!(
        matches!(error, HandlerError::RetryLater { .. }),
        "{error:?}"
    );
    assert!(
        fake.received().len() >= 2,
        "{error:?} {:?}",
        fake.received()
    );
    // The retry Lambda makes later succeeds with the same reference: one invalidation. An
    // attempt cut at the deadline may still reach the fake after this point, so the check
    // counts what was created and with which reference, never how many requests arrived.
    let refs_before: BTreeSet<String> = fake
        .received()
        .into_iter()
        .map(|r| r.caller_reference)
        .collect();
    fake.clear_faults();
    handle_sample(&handler, "s3-put.json").await.unwrap();
    let invalidations = fake.invalidations();
    assert_eq!(invalidations.len(), 1);
    assert_eq!(refs_before.len(), 1);
    assert!(refs_before.contains(&invalidations[0].caller_reference));
}

#[tokio::test]
async fn slow_answer_past_the_deadline_fails_in_time() {
    let fake = fake().await;
    fake.inject([Fault::Delay(Duration::from_secs(3))]);
    let handler = handler(&fake.endpoint(), site_config(DISTRIBUTION));
    let started = std::time::Instant::now();
    let error = handler
        .handle_json(&event("s3-put.json"), deadline(Duration::from_millis(400)))
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_millis(600),
        "{:?}",
        started.elapsed()
    );
    assert!(error.to_string().contains("deadline"), "{error}");
    // CloudFront did act; Lambda's retry gets the same invalidation back, not a second one.
    assert_eq!(fake.invalidations().len(), 1);
    handle_sample(&handler, "s3-put.json").await.unwrap();
    assert_eq!(fake.invalidations().len(), 1);
    assert!(matches!(
        fake.received().last().unwrap().answer,
        Answer::Reused(_)
    ));
}

/// Each fault persists through a whole invocation, then clears, as it would before
/// Lambda's (or SQS's) retry: afterwards the invalidated paths are exactly the changed
/// paths, in one invalidation, and every attempt carried the same batch.
#[tokio::test]
async fn after_retries_the_invalidated_paths_equal_the_changed_paths() {
    let faults = [
        Fault::Throttle,
        Fault::error(400, "TooManyInvalidationsInProgress"),
        Fault::error(500, "InternalError"),
        Fault::error(503, "ServiceUnavailable"),
        Fault::Reset,
        Fault::TruncatedXml,
        Fault::MalformedXml,
        Fault::Delay(Duration::from_secs(2)),
    ];
    for fault in faults {
        for sample in ["s3-several-records.json", "sqs-batch.json"] {
            let fake = fake().await;
            fake.inject((0..500).map(|_| fault.clone()));
            let handler = handler(&fake.endpoint(), site_config(DISTRIBUTION));
            let first = handler
                .handle_json(&event(sample), deadline(Duration::from_millis(250)))
                .await;
            let must_come_back = match &first {
                Err(HandlerError::RetryLater { .. }) => true,
                Ok(answer) => answer["batchItemFailures"]
                    .as_array()
                    .is_some_and(|failed| !failed.is_empty()),
                other => panic!("{fault:?} {sample}: not a defined state: {other:?}"),
            };
            assert!(must_come_back, "{fault:?} {sample}: {first:?}");
            fake.clear_faults();
            let retried = handler
                .handle_json(&event(sample), deadline(Duration::from_secs(5)))
                .await
                .unwrap();
            assert!(
                retried
                    .get("batchItemFailures")
                    .is_none_or(|failed| failed == &json!([])),
                "{retried}"
            );

            let expected = s3_cloudfront_invalidator::plan::plan(
                &s3_cloudfront_invalidator::event::decode(event(sample).to_string().as_bytes())
                    .unwrap(),
                &site_config(DISTRIBUTION),
            );
            let changed: BTreeSet<&String> = expected
                .invalidations
                .iter()
                .flat_map(|i| &i.paths)
                .collect();
            let invalidations = fake.invalidations();
            assert_eq!(
                invalidations.len(),
                1,
                "{fault:?} {sample}: one billed invalidation"
            );
            let invalidated: BTreeSet<&String> = invalidations[0].paths.iter().collect();
            assert_eq!(invalidated, changed, "{fault:?} {sample}");
            let batches: BTreeSet<(String, Vec<String>)> = fake
                .received()
                .into_iter()
                .map(|r| (r.caller_reference, r.paths))
                .collect();
            assert_eq!(
                batches.len(),
                1,
                "{fault:?} {sample}: every attempt carried the same batch"
            );
        }
    }
}

#[tokio::test]
async fn sqs_batch_reports_only_the_bad_message() {
    let (fake, handler) = site().await;
    let answer = handle_sample(&handler, "bad-sqs-partial.json")
        .await
        .unwrap();
    assert_eq!(
        answer,
        json!({"batchItemFailures": [{"itemIdentifier": "5f2b6a9e-3c1d-4e8f-9a7b-000000000001"}]})
    );
    assert_eq!(created(&fake), [["/good/one.html", "/good/two.html"]]);
}

#[tokio::test]
async fn sqs_messages_of_a_failed_invalidation_come_back() {
    let fake = fake().await;
    fake.inject((0..1000).map(|_| Fault::error(400, "TooManyInvalidationsInProgress")));
    let handler = handler(&fake.endpoint(), site_config(DISTRIBUTION));
    let answer = handler
        .handle_json(
            &event("sqs-batch.json"),
            deadline(Duration::from_millis(200)),
        )
        .await
        .unwrap();
    let failed = failed_message_ids(&answer);
    assert_eq!(
        failed,
        [
            "5f2b6a9e-3c1d-4e8f-9a7b-000000000000",
            "5f2b6a9e-3c1d-4e8f-9a7b-000000000001",
            "5f2b6a9e-3c1d-4e8f-9a7b-000000000002"
        ]
    );
    assert!(fake.invalidations().is_empty());
}

#[tokio::test]
async fn direct_event_with_a_bad_record_sends_the_good_ones_then_fails() {
    let (fake, handler) = site().await;
    let error = handle_sample(&handler, "bad-undecodable-key.json")
        .await
        .unwrap_err();
    assert_eq!(created(&fake), [["/good.html"]]);
    assert!(matches!(error, HandlerError::Failed { .. }));
    assert!(error.to_string().contains("Records[0] s3://example-site/bad%zzkey.html: key \"bad%zzkey.html\" has a malformed percent-escape at byte 3"), "{error}");
}

#[tokio::test]
async fn test_event_is_acknowledged_without_a_call() {
    let (fake, handler) = site().await;
    let answer = handle_sample(&handler, "s3-test-event.json").await.unwrap();
    assert_eq!(answer["invalidations"], json!([]));
    assert_eq!(answer["skipped"][0]["record"], json!("s3:TestEvent"));
    assert!(fake.received().is_empty());
}

/// A redelivered event whose reference CloudFront answers the field's way (InvalidArgument,
/// or InvalidationBatchAlreadyExists) is reused, not failed, and not retried.
#[tokio::test]
async fn replayed_references_answered_either_way_are_reused() {
    for replay in ["field InvalidArgument", "InvalidationBatchAlreadyExists"] {
        for sample in ["s3-several-records.json", "sqs-batch.json"] {
            let (fake, handler) = site().await;
            let first = handle_sample(&handler, sample).await.unwrap();
            if replay.starts_with("field") {
                fake.set_replay_answer(ReplayAnswer::Field);
            } else {
                fake.inject([Fault::error(400, "InvalidationBatchAlreadyExists")]);
            }
            let again = handle_sample(&handler, sample).await.unwrap();
            let context = format!("{replay} {sample}");
            if sample.starts_with("sqs") {
                assert!(failed_message_ids(&again).is_empty(), "{context}: {again}");
            } else {
                let id = first["invalidations"][0]["id"].clone();
                assert!(id.is_string(), "{context}");
                assert_eq!(again["invalidations"][0]["id"], json!(null), "{context}");
                assert_eq!(
                    again["invalidations"][0]["caller_reference"],
                    first["invalidations"][0]["caller_reference"]
                );
            }
            assert_eq!(fake.invalidations().len(), 1, "{context}");
            assert_eq!(fake.received().len(), 2, "{context}: not retried");
            assert!(
                matches!(&fake.received()[1].answer, Answer::Error(code) | Answer::Fault(Fault::Error { code, .. }) if code == "InvalidArgument" || code == "InvalidationBatchAlreadyExists"),
                "{context}: {:?}",
                fake.received()[1].answer
            );
        }
    }
}

/// Paths sent in created invalidations, each with how often it was sent.
fn sent_counts(fake: &FakeCloudFront) -> std::collections::BTreeMap<String, usize> {
    let mut counts = std::collections::BTreeMap::new();
    for invalidation in fake.invalidations() {
        for path in invalidation.paths {
            *counts.entry(path).or_default() += 1;
        }
    }
    counts
}

/// One path CloudFront refuses among many: the request is split until it is alone, the
/// others are invalidated once, and only the refused key's SQS message comes back.
#[tokio::test]
async fn a_refused_path_in_an_sqs_batch_fails_only_its_message() {
    let (fake, handler) = site().await;
    fake.refuse_paths(["/blog"]);
    let answer = handle_sample(&handler, "sqs-batch.json").await.unwrap();
    assert_eq!(
        failed_message_ids(&answer),
        ["5f2b6a9e-3c1d-4e8f-9a7b-000000000002"],
        "only the message of blog/index.html"
    );
    let sent = sent_counts(&fake);
    let expected: Vec<&str> = vec![
        "/blog/",
        "/blog/index.html",
        "/blog/post-1",
        "/blog/post-1/",
        "/blog/post-1/index.html",
        "/blog/post-2",
        "/blog/post-2/",
        "/blog/post-2/index.html",
    ];
    assert_eq!(
        sent.keys().map(String::as_str).collect::<Vec<_>>(),
        expected
    );
    assert!(sent.values().all(|&n| n == 1), "{sent:?}");
    // The same batch again (as SQS redelivers it) takes the same splits: nothing new.
    let before = fake.invalidations().len();
    let again = handle_sample(&handler, "sqs-batch.json").await.unwrap();
    assert_eq!(failed_message_ids(&again), failed_message_ids(&answer));
    assert_eq!(fake.invalidations().len(), before);
}

#[tokio::test]
async fn a_refused_path_is_widened_to_its_directory_or_reported_with_its_key() {
    let (fake, handler) = site().await;
    fake.refuse_paths(["/assets/logo.svg", "/about"]);
    let error = handle_sample(&handler, "s3-several-records.json")
        .await
        .unwrap_err();
    let sent = sent_counts(&fake);
    assert_eq!(
        sent.keys().map(String::as_str).collect::<Vec<_>>(),
        [
            "/",
            "/about/",
            "/about/index.html",
            "/assets/*",
            "/assets/old-logo.svg",
            "/index.html"
        ]
    );
    assert!(sent.values().all(|&n| n == 1), "{sent:?}");
    // `/about` has no wildcard to widen to (the root is not allowed): it fails, named.
    assert!(matches!(error, HandlerError::Failed { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("path /about"), "{message}");
    assert!(
        message.contains("Your request contains one or more invalid invalidation paths."),
        "{message}"
    );
    assert!(!message.contains("/assets/logo.svg"), "{message}");
}
