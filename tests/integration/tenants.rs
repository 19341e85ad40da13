//! Multi-tenant distributions: CreateInvalidationForDistributionTenant over loopback HTTP
//! against the CloudFront fake, with the same references, limits, retries and errors as
//! CreateInvalidation.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::common::*;
use devtools::events::sqs_event;
use devtools::fake_cloudfront::{Answer, FakeCloudFront, Fault};
use s3_cloudfront_invalidator::handler::{Handler, HandlerError};
use s3_cloudfront_invalidator::send::CloudFront;

const MULTI: &str = "EMULTITENANT01";
const TENANT: &str = "dt_2wjDZi3hD1ivOXf6rpZJO1AB";
const OTHER_TENANT: &str = "dt_3xkEAj4iE2jwPYg7sqAKP2BC";

async fn multi_tenant() -> FakeCloudFront {
    let fake = FakeCloudFront::start(&[MULTI], Duration::from_secs(60))
        .await
        .unwrap();
    fake.add_tenant(TENANT, MULTI);
    fake.add_tenant(OTHER_TENANT, MULTI);
    fake
}

fn tenant_handler(fake: &FakeCloudFront, tenant: &str) -> Handler<CloudFront> {
    handler(
        &fake.endpoint(),
        config(&[
            ("DISTRIBUTION_ID", MULTI),
            ("TENANT_ID", tenant),
            ("SOURCE_BUCKET", "example-site"),
            ("INDEX_DOCUMENT", "index.html"),
        ]),
    )
}

#[tokio::test]
async fn a_tenant_is_invalidated_through_its_own_call_once() {
    let fake = multi_tenant().await;
    let handler = tenant_handler(&fake, TENANT);
    let answer = handle_sample(&handler, "s3-put.json").await.unwrap();
    let received = fake.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].tenant_id.as_deref(), Some(TENANT));
    assert_eq!(received[0].distribution_id, MULTI);
    assert_eq!(received[0].paths, ["/", "/index.html"]);
    let created = fake.invalidations();
    assert_eq!(created[0].tenant_id.as_deref(), Some(TENANT));
    assert_eq!(answer["invalidations"][0]["tenant_id"], TENANT);
    assert_eq!(answer["invalidations"][0]["id"], created[0].id.as_str());

    // Delivered again: the same reference, answered with the earlier invalidation.
    let again = handle_sample(&handler, "s3-put.json").await.unwrap();
    assert_eq!(again["invalidations"][0]["id"], created[0].id.as_str());
    let answers: Vec<Answer> = fake.received().into_iter().map(|r| r.answer).collect();
    assert!(
        matches!(answers.as_slice(), [Answer::Created(a), Answer::Reused(b)] if a == b),
        "{answers:?}"
    );
    // A reference belongs to its tenant: the same change for another tenant is another batch.
    tenant_handler(&fake, OTHER_TENANT)
        .handle_json(&event("s3-put.json"), deadline(Duration::from_secs(5)))
        .await
        .unwrap();
    let references: BTreeSet<String> = fake
        .received()
        .into_iter()
        .map(|r| r.caller_reference)
        .collect();
    assert_eq!(references.len(), 2);
    assert_eq!(fake.invalidations().len(), 2);
}

#[tokio::test]
async fn each_tenant_of_a_batch_gets_its_own_request() {
    let fake = multi_tenant().await;
    let routes = format!(
        r#"[{{"distribution_id":"{MULTI}","tenant_id":"{TENANT}","key_prefix":"a/"}},
            {{"distribution_id":"{MULTI}","tenant_id":"{OTHER_TENANT}","key_prefix":"b/"}}]"#
    );
    let handler = handler(&fake.endpoint(), config(&[("ROUTES", &routes)]));
    let keys: Vec<String> = ["a/one.html", "b/two.html", "a/three.html"]
        .map(String::from)
        .into();
    let answer = handler
        .handle_json(&sqs_event(&keys), deadline(Duration::from_secs(5)))
        .await
        .unwrap();
    assert!(failed_message_ids(&answer).is_empty(), "{answer}");
    let mut got: Vec<(Option<String>, Vec<String>)> = fake
        .invalidations()
        .into_iter()
        .map(|i| (i.tenant_id, i.paths))
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            (
                Some(TENANT.to_string()),
                vec!["/one.html".to_string(), "/three.html".to_string()]
            ),
            (
                Some(OTHER_TENANT.to_string()),
                vec!["/two.html".to_string()]
            ),
        ]
    );
}

#[tokio::test]
async fn tenant_faults_are_retried_with_the_same_reference() {
    let fake = multi_tenant().await;
    fake.inject([
        Fault::Throttle,
        Fault::error(400, "TooManyInvalidationsInProgress"),
        Fault::error(503, "ServiceUnavailable"),
    ]);
    let handler = tenant_handler(&fake, TENANT);
    handle_sample(&handler, "s3-put.json").await.unwrap();
    let received = fake.received();
    assert_eq!(received.len(), 4, "three faults, then success");
    let batches: BTreeSet<(Option<String>, String, Vec<String>)> = received
        .into_iter()
        .map(|r| (r.tenant_id, r.caller_reference, r.paths))
        .collect();
    assert_eq!(batches.len(), 1, "every attempt carries the same batch");
    assert_eq!(fake.invalidations().len(), 1);
}

#[tokio::test]
async fn tenant_refusals_say_what_to_fix() {
    let fake = multi_tenant().await;
    let error = handle_sample(&tenant_handler(&fake, "dt_unknown"), "s3-put.json")
        .await
        .unwrap_err();
    assert!(matches!(error, HandlerError::Failed { .. }), "{error:?}");
    assert!(
        error.to_string().contains(&format!(
            "on {MULTI} tenant dt_unknown (2 paths): distribution tenant dt_unknown does not exist (EntityNotFound): check TENANT_ID or ROUTES"
        )),
        "{error}"
    );
    assert_eq!(fake.received().len(), 1, "not retried");

    fake.inject([Fault::error(403, "AccessDenied")]);
    let error = handle_sample(&tenant_handler(&fake, TENANT), "s3-put.json")
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains(&format!(
            "access denied on distribution tenant {TENANT} (AccessDenied): the function's role needs cloudfront:CreateInvalidationForDistributionTenant on arn:aws:cloudfront::ACCOUNT_ID:distribution-tenant/{TENANT}"
        )),
        "{error}"
    );
}
