//! Deferral: when CloudFront has too many invalidations in progress, the paths go to the
//! function's own queue (moto's SQS here) as one delayed message, written before the batch
//! is acknowledged, and come back to be merged with whatever is new.

use std::time::Duration;

use crate::common::*;
use crate::common::{Moto, start_moto};
use devtools::fake_cloudfront::Fault;
use s3_cloudfront_invalidator::handler::Handler;
use s3_cloudfront_invalidator::queue::Sqs;
use s3_cloudfront_invalidator::send::CloudFront;
use serde_json::{Value, json};

fn deferring_handler(cloudfront: &str, moto: &Moto, queue_url: &str) -> Handler<CloudFront, Sqs> {
    let config = config(&[
        ("DISTRIBUTION_ID", DISTRIBUTION),
        ("SOURCE_BUCKET", "example-site"),
        ("INDEX_DOCUMENT", "index.html"),
        ("DEFER_QUEUE_URL", queue_url),
        ("DEFER_DELAY_SECONDS", "0"),
    ]);
    let plain = handler(cloudfront, config);
    Handler {
        queue: Some(Sqs::new(&sdk_config(&moto.endpoint), queue_url)),
        ..plain
    }
}

#[tokio::test]
async fn busy_cloudfront_defers_the_batch_then_merges_it_with_new_changes() {
    let Some(moto) = start_moto().await else {
        return;
    };
    let (sqs, url) = sqs_queue(&moto.endpoint, "buffer").await;
    let fake = fake().await;
    let handler = deferring_handler(&fake.endpoint(), &moto, &url);
    fake.inject([Fault::error(400, "TooManyInvalidationsInProgress")]);

    let answer = handler
        .handle_json(&event("sqs-batch.json"), deadline(Duration::from_secs(10)))
        .await
        .unwrap();
    assert!(
        failed_message_ids(&answer).is_empty(),
        "acknowledged: {answer}"
    );
    assert_eq!(fake.received().len(), 1, "no waiting inside the invocation");
    assert!(fake.invalidations().is_empty());
    let deferred = receive_all(&sqs, &url).await;
    assert_eq!(deferred.len(), 1, "one deferred message for the batch");
    let body: Value = serde_json::from_str(deferred[0]["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["s3cfi_work"], 1);
    assert_eq!(body["deferred"]["deferrals"], 1);
    let planned: Vec<Value> = fake.received()[0].paths.iter().map(|p| json!(p)).collect();
    assert_eq!(body["deferred"]["paths"], json!(planned));

    // The deferred message comes back with a new upload (and a duplicate of the deferral,
    // as SQS may deliver it twice): one invalidation covers both, once.
    let mut next = event("sqs-batch.json");
    let new_upload = next["Records"][0].clone();
    let mut new_upload = new_upload;
    new_upload["messageId"] = json!("new-1");
    new_upload["body"] = json!(
        new_upload["body"]
            .as_str()
            .unwrap()
            .replace("blog/post-1/index.html", "news/today.html")
            .replace("0065F1A2B3C4D5E6", "0065F1A2B3C4D5F7")
    );
    let mut duplicate = deferred[0].clone();
    duplicate["messageId"] = json!("dup-1");
    next["Records"] = json!([deferred[0].clone(), duplicate, new_upload]);
    let answer = handler
        .handle_json(&next, deadline(Duration::from_secs(10)))
        .await
        .unwrap();
    assert!(failed_message_ids(&answer).is_empty(), "{answer}");
    let invalidations = fake.invalidations();
    assert_eq!(invalidations.len(), 1);
    let mut expected: Vec<String> = planned
        .iter()
        .map(|p| p.as_str().unwrap().to_owned())
        .collect();
    expected.push("/news/today.html".into());
    expected.sort();
    assert_eq!(invalidations[0].paths, expected);
    assert!(
        receive_all(&sqs, &url).await.is_empty(),
        "nothing deferred again"
    );
}

#[tokio::test]
async fn a_deferral_that_cannot_be_written_sends_the_messages_back() {
    let Some(moto) = start_moto().await else {
        return;
    };
    let fake = fake().await;
    let missing = format!("{}/123456789012/no-such-queue", moto.endpoint);
    let handler = deferring_handler(&fake.endpoint(), &moto, &missing);
    fake.inject([Fault::error(400, "TooManyInvalidationsInProgress")]);
    let answer = handler
        .handle_json(&event("sqs-batch.json"), deadline(Duration::from_secs(10)))
        .await
        .unwrap();
    assert_eq!(
        failed_message_ids(&answer),
        [
            "5f2b6a9e-3c1d-4e8f-9a7b-000000000000",
            "5f2b6a9e-3c1d-4e8f-9a7b-000000000001",
            "5f2b6a9e-3c1d-4e8f-9a7b-000000000002"
        ]
    );
}

#[tokio::test]
async fn bad_deferred_payloads_are_rejected_without_blocking_the_batch() {
    let fake = fake().await;
    let work_url = "http://127.0.0.1:9/123456789012/work";
    let handler = handler(
        &fake.endpoint(),
        config(&[
            ("DISTRIBUTION_ID", DISTRIBUTION),
            ("SOURCE_BUCKET", "example-site"),
            ("INDEX_DOCUMENT", "index.html"),
            ("WORK_QUEUE_ARN", &queue_arn(work_url)),
        ]),
    );
    let good = |paths: Value| json!({"s3cfi_work": 1, "deferred": {"distribution_id": DISTRIBUTION, "reference": "s3cfi-x.0", "paths": paths, "deferrals": 1}});
    let cases = [
        (
            json!({"s3cfi_work": 2, "deferred": {}}),
            "format version 2; this function reads 1",
        ),
        (
            good(json!(["no-slash"])),
            "path \"no-slash\" is not a valid CloudFront path",
        ),
        (good(json!([])), "0 paths; 1 to 3000 expected"),
        (
            json!({"s3cfi_work": 1, "deferred": {"distribution_id": DISTRIBUTION, "reference": "r", "paths": ["/a"], "deferrals": 99}}),
            "deferrals 99 is outside 1 to 20",
        ),
        (
            json!({"s3cfi_work": 1, "deferred": {"distribution_id": DISTRIBUTION, "paths": ["/a"]}}),
            "missing field `reference`",
        ),
    ];
    for (body, reason) in cases {
        let batch = sqs_event(&[
            queue_message("bad", &body, work_url),
            queue_message("good", &good(json!(["/ok.html"])), work_url),
        ]);
        let decoded =
            s3_cloudfront_invalidator::event::decode(batch.to_string().as_bytes()).unwrap();
        assert_eq!(decoded.rejected.len(), 1, "{reason}");
        let message = decoded.rejected[0].reason.to_string();
        assert!(
            message.starts_with("work message is invalid: "),
            "{message}"
        );
        assert!(message.contains(reason), "{message}");
        let answer = handler
            .handle_json(&batch, deadline(Duration::from_secs(5)))
            .await
            .unwrap();
        assert_eq!(failed_message_ids(&answer), ["bad"], "{reason}");
    }
    // Work for a distribution no longer configured is dropped, not failed.
    let stale = sqs_event(&[queue_message(
        "old",
        &json!({"s3cfi_work": 1, "deferred": {"distribution_id": "EGONE", "reference": "r", "paths": ["/a"], "deferrals": 1}}),
        work_url,
    )]);
    let answer = handler
        .handle_json(&stale, deadline(Duration::from_secs(5)))
        .await
        .unwrap();
    assert!(failed_message_ids(&answer).is_empty());
    assert_eq!(
        fake.invalidations()
            .iter()
            .filter(|i| i.paths.contains(&"/a".to_string()))
            .count(),
        0
    );
}
