//! The handler over real HTTP against moto's server (from PyPI, installed into .venv by
//! `make test`): notifications written by moto's S3 (to SQS, and through EventBridge to SQS),
//! and moto's CloudFront. moto accepts any batch and does not dedupe by CallerReference, so
//! these tests check what moto can: the events it writes, the request the SDK sends and what
//! CloudFront keeps.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::common::*;
use aws_sdk_cloudfront::types::{
    DefaultCacheBehavior, DistributionConfig, Origin, Origins, S3OriginConfig, ViewerProtocolPolicy,
};

/// moto's server, stopped when dropped.
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

fn moto_binary() -> Option<PathBuf> {
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

/// A distribution in moto's CloudFront; its id.
pub async fn create_distribution(client: &aws_sdk_cloudfront::Client) -> String {
    let origin = Origin::builder()
        .id("site")
        .domain_name("example-site.s3.amazonaws.com")
        .s3_origin_config(S3OriginConfig::builder().origin_access_identity("").build())
        .build()
        .unwrap();
    let config = DistributionConfig::builder()
        .caller_reference("moto-test")
        .comment("invalidator test")
        .enabled(true)
        .origins(
            Origins::builder()
                .quantity(1)
                .items(origin)
                .build()
                .unwrap(),
        )
        .default_cache_behavior(
            DefaultCacheBehavior::builder()
                .target_origin_id("site")
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

async fn invalidated_paths(
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

#[tokio::test]
async fn invalidations_reach_moto_with_encoded_paths() {
    let Some(moto) = start_moto().await else {
        return;
    };
    let client = aws_sdk_cloudfront::Client::new(&sdk_config(&moto.endpoint));
    let distribution = create_distribution(&client).await;
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
    let distribution = create_distribution(&client).await;
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
