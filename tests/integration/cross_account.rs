//! A distribution in another account, invalidated through a role: STS and CloudFront both
//! served by moto on loopback. moto keeps each account apart and files the calls made with
//! an assumed role's credentials under the role's account, so the distribution is reachable
//! only through the role.

use std::time::Duration;

use crate::common::*;
use aws_config::sts::AssumeRoleProvider;
use serde_json::Value;

const ROLE: &str = "arn:aws:iam::111122223333:role/site-invalidator";
const EXTERNAL_ID: &str = "site-4f1c";

/// A CloudFront client of the role's account, as its owner would use it.
async fn their_client(endpoint: &str) -> aws_sdk_cloudfront::Client {
    let own = sdk_config(endpoint);
    let theirs = AssumeRoleProvider::builder(ROLE)
        .session_name("test-setup")
        .configure(&own)
        .build()
        .await;
    aws_sdk_cloudfront::Client::from_conf(
        aws_sdk_cloudfront::config::Builder::from(&own)
            .credentials_provider(theirs)
            .build(),
    )
}

#[tokio::test]
async fn a_distribution_of_another_account_is_invalidated_through_the_role() {
    let Some(moto) = start_moto().await else {
        return;
    };
    let theirs = their_client(&moto.endpoint).await;
    let distribution = create_distribution(&theirs, "cross-account", &[SITE_ORIGIN], true).await;
    let mine = aws_sdk_cloudfront::Client::new(&sdk_config(&moto.endpoint));
    assert!(
        mine.get_distribution()
            .id(&distribution)
            .send()
            .await
            .is_err(),
        "the distribution is not in the function's own account"
    );

    let through_role = handler(
        &moto.endpoint,
        config(&[
            ("DISTRIBUTION_ID", &distribution),
            ("SOURCE_BUCKET", "example-site"),
            ("INDEX_DOCUMENT", "index.html"),
            ("ROLE_ARN", ROLE),
            ("EXTERNAL_ID", EXTERNAL_ID),
        ]),
    );
    let answer = handle_sample(&through_role, "s3-put.json").await.unwrap();
    assert_eq!(answer["invalidations"][0]["distribution_id"], distribution);
    let answer = through_role
        .handle_json(&event("sqs-batch.json"), deadline(Duration::from_secs(10)))
        .await
        .unwrap();
    assert!(failed_message_ids(&answer).is_empty(), "{answer}");
    let mut paths = invalidated_paths(&theirs, &distribution).await;
    paths.sort();
    assert_eq!(paths.len(), 2);
    assert!(paths.contains(&vec!["/".to_string(), "/index.html".to_string()]));

    // One AssumeRole for both invocations: the credentials are kept until they expire.
    let state = moto.state();
    let sessions: Vec<&Value> = state["sts"]["AssumedRole"]
        .as_array()
        .expect("moto lists assumed roles")
        .iter()
        .filter(|role| role["session_name"] == "s3-cloudfront-invalidator")
        .collect();
    assert_eq!(sessions.len(), 1, "{sessions:#?}");
    assert_eq!(sessions[0]["role_arn"], ROLE);
    assert_eq!(sessions[0]["external_id"], EXTERNAL_ID);
    assert_eq!(sessions[0]["account_id"], "111122223333");

    // Without the role, the function's own account has no such distribution.
    let without_role = handler(&moto.endpoint, site_config(&distribution));
    let error = handle_sample(&without_role, "s3-put.json")
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("(NoSuchDistribution)"),
        "{error}"
    );
}
