//! The handler over real HTTP against moto's server (from PyPI, installed into .venv by
//! `make test`): notifications written by moto's S3 (to SQS, and through EventBridge to SQS),
//! and moto's CloudFront. moto accepts any batch and does not dedupe by CallerReference, so
//! these tests check what moto can: the events it writes, the request the SDK sends and what
//! CloudFront keeps.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::*;

#[tokio::test]
async fn invalidations_reach_moto_with_encoded_paths() {
    let Some(moto) = start_moto().await else {
        return;
    };
    let client = aws_sdk_cloudfront::Client::new(&sdk_config(&moto.endpoint));
    let distribution = create_distribution(&client, "moto-test", &[SITE_ORIGIN], true).await;
    let handler = handler(&moto.endpoint, site_config(&distribution));

    let answer = handler
        .handle_json(
            &event("s3-special-keys.json"),
            deadline(Duration::from_secs(10)),
        )
        .await
        .unwrap();
    assert_eq!(answer["invalidations"][0]["paths"], 9);
    let answer = handler
        .handle_json(&event("sqs-batch.json"), deadline(Duration::from_secs(10)))
        .await
        .unwrap();
    assert_eq!(answer["batchItemFailures"], serde_json::json!([]));

    let mut paths = invalidated_paths(&client, &distribution).await;
    paths.sort();
    assert_eq!(paths.len(), 2);
    assert!(paths.contains(&vec![
        "/blog/caf%C3%A9/men%C3%BC.html".to_string(),
        "/docs/getting%20started.html".into(),
        "/docs/getting+started.html".into(),
        "/downloads/c%2B%2B%20guide.pdf".into(),
        "/downloads/c%2B%2B+guide.pdf".into(),
        "/downloads/c++%20guide.pdf".into(),
        "/people/*".into(),
        "/reports/100%25%20done%3F.html".into(),
        "/reports/100%25+done%3F.html".into(),
    ]));
    assert!(
        paths
            .iter()
            .any(|p| p.contains(&"/blog/post-1/".to_string()))
    );
}

#[tokio::test]
async fn unknown_distribution_in_moto_is_a_clear_error() {
    let Some(moto) = start_moto().await else {
        return;
    };
    let handler = handler(&moto.endpoint, site_config("ENOSUCHDIST"));
    let error = handler
        .handle_json(&event("s3-put.json"), deadline(Duration::from_secs(10)))
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("distribution ENOSUCHDIST does not exist (NoSuchDistribution)"),
        "{error}"
    );
}

/// Keys S3 holds but URLs must escape, each with the path CloudFront must be sent for it.
const TRICKY_KEYS: [(&str, &str); 10] = [
    ("docs/getting started.html", "/docs/getting%20started.html"),
    ("downloads/c++ guide.pdf", "/downloads/c++%20guide.pdf"),
    ("reports/100% done?.html", "/reports/100%25%20done%3F.html"),
    ("blog/café/menü.html", "/blog/caf%C3%A9/men%C3%BC.html"),
    ("a+b/x=y&z;@!$'(),.html", "/a+b/x=y&z;@!$'(),.html"),
    (
        "weird/#frag[1]{2}|^`\"<>.html",
        "/weird/%23frag%5B1%5D%7B2%7D%7C%5E%60%22%3C%3E.html",
    ),
    (
        "日本/ファイル.html",
        "/%E6%97%A5%E6%9C%AC/%E3%83%95%E3%82%A1%E3%82%A4%E3%83%AB.html",
    ),
    ("people/~alice/profile.html", "/people/*"),
    ("dots/../up.html", "/dots/*"),
    ("double//slash.html", "/double/*"),
];

/// moto's S3 writes the notifications (to SQS, and through an EventBridge rule to SQS) for
/// real PutObject and DeleteObject calls; each batch, as Lambda would deliver it, must plan
/// every key's path exactly and reach moto's CloudFront with no message failed.
#[tokio::test]
async fn notifications_written_by_moto_s3_cover_every_key() {
    let Some(moto) = start_moto().await else {
        return;
    };
    let python = moto_binary().unwrap().with_file_name("python");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/devtools/moto_s3_notifications.py"
    );
    let keys: Vec<&str> = TRICKY_KEYS.iter().map(|(key, _)| *key).collect();
    let mut child = Command::new(python)
        .args([script, &moto.endpoint])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    serde_json::to_writer(child.stdin.take().unwrap(), &keys).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "the moto driver failed");
    let batches: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();

    let client = aws_sdk_cloudfront::Client::new(&sdk_config(&moto.endpoint));
    let distribution = create_distribution(&client, "moto-test", &[SITE_ORIGIN], true).await;
    let config = config(&[
        ("DISTRIBUTION_ID", &distribution),
        ("SOURCE_BUCKET", "example-site"),
        ("COLLAPSE", "never"),
    ]);
    for source in ["notifications", "eventbridge"] {
        let event = &batches[source];
        let decoded =
            s3_cloudfront_invalidator::event::decode(event.to_string().as_bytes()).unwrap();
        assert!(
            decoded.rejected.is_empty(),
            "{source}: {:?}",
            decoded.rejected
        );
        // Every put, and the delete of the first key.
        let created = decoded.changes.iter().filter(|c| !c.second_reading).count();
        assert_eq!(created, keys.len() + 1, "{source}");
        let plan = s3_cloudfront_invalidator::plan::plan(&decoded, &config);
        let planned: Vec<&str> = plan
            .invalidations
            .iter()
            .flat_map(|i| i.paths.iter().map(String::as_str))
            .collect();
        for (key, path) in TRICKY_KEYS {
            assert!(
                planned.contains(&path),
                "{source}: {key:?} must be invalidated as {path}; planned {planned:?}"
            );
        }
        let answer = handler(&moto.endpoint, config.clone())
            .handle_json(event, deadline(Duration::from_secs(10)))
            .await
            .unwrap();
        assert!(failed_message_ids(&answer).is_empty(), "{source}: {answer}");
    }
    let invalidated: Vec<String> = invalidated_paths(&client, &distribution).await.concat();
    for (key, path) in TRICKY_KEYS {
        assert!(
            invalidated.iter().any(|p| p == path),
            "{key:?}: {path} not invalidated in moto"
        );
    }
}
