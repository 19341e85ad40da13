//! `DISTRIBUTION_ID=auto`: the distributions whose origins are the bucket, found at start-up
//! in moto's CloudFront among others, each origin's path honoured as the key prefix; and the
//! binary's start-up line, or its refusal to start when none is found.

use std::time::Duration;

use crate::common::*;
use devtools::events::s3_event;
use devtools::runtime_api::RuntimeApi;
use s3_cloudfront_invalidator::discover::discover;
use s3_cloudfront_invalidator::send::CloudFront;
use tokio::io::AsyncReadExt;

#[tokio::test]
async fn only_the_buckets_distributions_are_invalidated_under_their_origin_paths() {
    let Some(moto) = start_moto().await else {
        return;
    };
    let client = aws_sdk_cloudfront::Client::new(&sdk_config(&moto.endpoint));
    let whole = create_distribution(&client, "whole", &[SITE_ORIGIN], true).await;
    let other = create_distribution(
        &client,
        "other",
        &[("other-bucket.s3.amazonaws.com", "", false)],
        true,
    )
    .await;
    let under_site = create_distribution(
        &client,
        "under-site",
        &[
            ("api.example.com", "", true),
            ("example-site.s3.us-east-1.amazonaws.com", "/site", false),
        ],
        true,
    )
    .await;
    let website = create_distribution(
        &client,
        "website",
        &[(
            "example-site.s3-website-us-east-1.amazonaws.com",
            "/www",
            true,
        )],
        true,
    )
    .await;
    let disabled = create_distribution(&client, "disabled", &[SITE_ORIGIN], false).await;

    let config = config(&[
        ("DISTRIBUTION_ID", "auto"),
        ("SOURCE_BUCKET", "example-site"),
        ("COLLAPSE", "never"),
    ]);
    let cloudfront = CloudFront::new(&sdk_config(&moto.endpoint));
    // Pages of two: five distributions take three pages.
    let config = discover(config, &cloudfront, Some(2)).await.unwrap();
    let mut found: Vec<(&str, &str)> = config
        .routes
        .iter()
        .map(|r| (r.distribution_id.as_str(), r.key_prefix.as_str()))
        .collect();
    found.sort();
    let mut expected = vec![
        (whole.as_str(), ""),
        (under_site.as_str(), "site/"),
        (website.as_str(), "www/"),
    ];
    expected.sort();
    assert_eq!(found, expected);

    let handler = handler(&moto.endpoint, config);
    let keys: Vec<String> = ["index.html", "site/about.html", "www/news.html"]
        .map(String::from)
        .into();
    let answer = handler
        .handle_json(&s3_event(&keys), deadline(Duration::from_secs(10)))
        .await
        .unwrap();
    assert_eq!(
        answer["invalidations"].as_array().unwrap().len(),
        3,
        "{answer}"
    );
    assert_eq!(
        invalidated_paths(&client, &whole).await,
        // index.html is the index document by default: its directory goes too.
        [["/", "/index.html", "/site/about.html", "/www/news.html"]]
    );
    assert_eq!(
        invalidated_paths(&client, &under_site).await,
        [["/about.html"]]
    );
    assert_eq!(invalidated_paths(&client, &website).await, [["/news.html"]]);
    assert!(invalidated_paths(&client, &other).await.is_empty());
    assert!(invalidated_paths(&client, &disabled).await.is_empty());
}

/// The function binary under a local Runtime API with moto as its CloudFront.
fn function(runtime: &RuntimeApi, moto: &Moto, bucket: &str) -> tokio::process::Child {
    runtime
        .function_command(
            env!("CARGO_BIN_EXE_s3-cloudfront-invalidator"),
            &moto.endpoint,
        )
        .env("DISTRIBUTION_ID", "auto")
        .env("SOURCE_BUCKET", bucket)
        .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("function binary starts")
}

#[tokio::test]
async fn the_binary_says_what_it_found_in_one_line_or_does_not_start() {
    let Some(moto) = start_moto().await else {
        return;
    };
    let client = aws_sdk_cloudfront::Client::new(&sdk_config(&moto.endpoint));
    let found = create_distribution(
        &client,
        "found",
        &[("example-site.s3.amazonaws.com", "/site", false)],
        true,
    )
    .await;
    let root = create_distribution(&client, "root", &[SITE_ORIGIN], true).await;
    let runtime = RuntimeApi::start().await.unwrap();
    let mut child = function(&runtime, &moto, "example-site");
    runtime
        .first_poll(Duration::from_secs(20))
        .await
        .expect("the function starts and asks for an event");
    child.kill().await.unwrap();
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .await
        .unwrap();
    let lines: Vec<&str> = stdout
        .lines()
        .filter(|line| line.contains("distributions found from the bucket"))
        .collect();
    assert_eq!(lines.len(), 1, "{stdout}");
    assert!(
        lines[0].contains(&format!("{found} (origin path /site), {root}")),
        "{}",
        lines[0]
    );

    // `plan` finds them the same way, and shows where each key goes.
    let plan = std::process::Command::new(env!("CARGO_BIN_EXE_s3-cloudfront-invalidator"))
        .args(["plan", "events/s3-site-release.json"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_clear()
        .envs([
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "AKIDLOCAL"),
            ("AWS_SECRET_ACCESS_KEY", "local-secret"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("AWS_ENDPOINT_URL_CLOUDFRONT", moto.endpoint.as_str()),
            ("DISTRIBUTION_ID", "auto"),
            ("SOURCE_BUCKET", "example-site"),
        ])
        .output()
        .unwrap();
    assert!(
        plan.status.success(),
        "{}",
        String::from_utf8_lossy(&plan.stderr)
    );
    let plan: serde_json::Value = serde_json::from_slice(&plan.stdout).unwrap();
    let invalidations = plan["invalidations"].as_array().unwrap();
    assert_eq!(
        invalidations.len(),
        1,
        "no key of the release is under site/: {plan}"
    );
    assert_eq!(invalidations[0]["distribution_id"], root.as_str());
    // The release's five keys, and / for its index.html.
    assert_eq!(invalidations[0]["paths"].as_array().unwrap().len(), 6);

    let runtime = RuntimeApi::start().await.unwrap();
    let child = function(&runtime, &moto, "no-such-site");
    assert_eq!(
        refused_start_up(child, Duration::from_secs(20)).await,
        "invalid configuration: DISTRIBUTION_ID is auto, but no distribution that can be invalidated has an origin in bucket no-such-site: check SOURCE_BUCKET (or the route's bucket), or give the distribution id"
    );
}
