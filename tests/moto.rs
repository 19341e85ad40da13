//! The handler over real HTTP against moto's CloudFront server (from PyPI, installed into
//! .venv by `make test`). moto accepts any batch and does not dedupe by CallerReference,
//! so these tests check what moto can: the request the SDK sends and what CloudFront keeps.

mod common;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use aws_sdk_cloudfront::types::{
    DefaultCacheBehavior, DistributionConfig, Origin, Origins, S3OriginConfig, ViewerProtocolPolicy,
};
use common::*;

/// moto's server, stopped when dropped.
struct Moto {
    child: Child,
    endpoint: String,
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
async fn start_moto() -> Option<Moto> {
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

async fn create_distribution(client: &aws_sdk_cloudfront::Client) -> String {
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
        .handle(
            &event("s3-special-keys.json"),
            deadline(Duration::from_secs(10)),
        )
        .await
        .unwrap();
    assert_eq!(answer["invalidations"][0]["paths"], 7);
    let answer = handler
        .handle(&event("sqs-batch.json"), deadline(Duration::from_secs(10)))
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
        .handle(&event("s3-put.json"), deadline(Duration::from_secs(10)))
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("distribution ENOSUCHDIST does not exist (NoSuchDistribution)"),
        "{error}"
    );
}
