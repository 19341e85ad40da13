//! Completion events: every invalidation made is watched through the function's own queue
//! (moto's SQS) until CloudFront (moto's, or the fake, which can hold one in progress)
//! reports it completed, then announced on an EventBridge bus (moto's), where a rule sends
//! it to a queue the tests read, as a subscriber would see it.

use std::process::Stdio;
use std::time::{Duration, SystemTime};

use crate::common::*;
use crate::common::{Moto, SITE_ORIGIN, create_distribution, start_moto};
use aws_sdk_eventbridge::types::Target;
use devtools::runtime_api::{Reply, RuntimeApi};
use s3_cloudfront_invalidator::event::work::Timestamp;
use s3_cloudfront_invalidator::handler::{self, Handler, HandlerError, Watching};
use s3_cloudfront_invalidator::outcome::{CheckFailure, Checked};
use s3_cloudfront_invalidator::publish::EventBridge;
use s3_cloudfront_invalidator::queue::Sqs;
use s3_cloudfront_invalidator::report::counts;
use s3_cloudfront_invalidator::send::{CloudFront, SendError};
use serde_json::{Value, json};

const BUS: &str = "site-events";

/// A work queue nothing listens on, for checks that must never reach it.
const WATCH_URL: &str = "http://127.0.0.1:9/123456789012/watch";

/// A bus in moto's EventBridge whose rule sends every event of this function to a queue.
struct Subscriber {
    sqs: aws_sdk_sqs::Client,
    url: String,
}

impl Subscriber {
    async fn start(moto: &Moto) -> Subscriber {
        let events = aws_sdk_eventbridge::Client::new(&sdk_config(&moto.endpoint));
        events.create_event_bus().name(BUS).send().await.unwrap();
        let (sqs, url) = sqs_queue(&moto.endpoint, "subscriber").await;
        let arn = sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .unwrap()
            .attributes()
            .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
            .clone();
        events
            .put_rule()
            .name("invalidations")
            .event_bus_name(BUS)
            .event_pattern(json!({"source": ["s3-cloudfront-invalidator"]}).to_string())
            .send()
            .await
            .unwrap();
        events
            .put_targets()
            .rule("invalidations")
            .event_bus_name(BUS)
            .targets(Target::builder().id("queue").arn(arn).build().unwrap())
            .send()
            .await
            .unwrap();
        Subscriber { sqs, url }
    }

    /// The events delivered since the last look.
    async fn events(&self) -> Vec<Value> {
        receive_all(&self.sqs, &self.url)
            .await
            .iter()
            .map(|record| serde_json::from_str(record["body"].as_str().unwrap()).unwrap())
            .collect()
    }
}

/// A handler invalidating `distribution` on `cloudfront`, whose checks wait in `watch_url`
/// and whose events go to [`BUS`], both in moto. Checks are due at once.
fn watching_handler(
    cloudfront: &str,
    moto: &Moto,
    distribution: &str,
    watch_url: &str,
) -> Handler<CloudFront> {
    let config = config(&[
        ("DISTRIBUTION_ID", distribution),
        ("SOURCE_BUCKET", "example-site"),
        ("INDEX_DOCUMENT", "index.html"),
        ("COMPLETION_EVENTS", BUS),
        ("WATCH_QUEUE_URL", watch_url),
        ("COMPLETION_CHECK_DELAY_SECONDS", "0"),
    ]);
    let aws = sdk_config(&moto.endpoint);
    Handler {
        watching: Some(Watching {
            queue: Sqs::new(&aws, watch_url),
            publisher: EventBridge::new(&aws, BUS),
        }),
        ..handler(cloudfront, config)
    }
}

fn body(record: &Value) -> Value {
    serde_json::from_str(record["body"].as_str().unwrap()).unwrap()
}

/// The same message as SQS would deliver it again: another message id, the same body.
fn redelivered(record: &Value, id: &str) -> Value {
    let mut copy = record.clone();
    copy["messageId"] = json!(id);
    copy
}

async fn delayed_messages(sqs: &aws_sdk_sqs::Client, url: &str) -> usize {
    use aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesDelayed as Delayed;
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(Delayed)
        .send()
        .await
        .unwrap();
    attributes.attributes().unwrap()[&Delayed].parse().unwrap()
}

#[tokio::test]
async fn a_completed_invalidation_is_announced_once_with_the_documented_fields() {
    let Some(moto) = start_moto().await else {
        return;
    };
    let subscriber = Subscriber::start(&moto).await;
    let (sqs, watch_url) = sqs_queue(&moto.endpoint, "watch").await;
    let cloudfront = aws_sdk_cloudfront::Client::new(&sdk_config(&moto.endpoint));
    let distribution = create_distribution(&cloudfront, "completion", &[SITE_ORIGIN], true).await;
    let handler = watching_handler(&moto.endpoint, &moto, &distribution, &watch_url);

    let answer = handler
        .handle_json(&event("sqs-batch.json"), deadline(Duration::from_secs(10)))
        .await
        .unwrap();
    assert!(failed_message_ids(&answer).is_empty(), "{answer}");
    let watches = receive_all(&sqs, &watch_url).await;
    assert_eq!(watches.len(), 1, "one check for the one invalidation");
    let watch = body(&watches[0]);
    assert_eq!(watch["s3cfi_work"], 1);
    let invalidation_id = watch["watch"]["invalidation_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(watch["watch"]["distribution_id"], distribution.as_str());
    assert!(
        watch["watch"]["caller_reference"]
            .as_str()
            .unwrap()
            .starts_with("s3cfi-")
    );
    assert_eq!(watch["watch"]["billed_paths"], 9);
    assert_eq!(
        (&watch["watch"]["checks"], &watch["watch"]["delay_seconds"]),
        (&json!(0), &json!(0))
    );
    // moto completes invalidations at once: CloudFront's answer already said so.
    assert!(watch["watch"].get("in_progress_at").is_none(), "{watch}");
    assert!(
        subscriber.events().await.is_empty(),
        "nothing announced yet"
    );

    // The check comes back twice in one batch (SQS delivers at least once): one event.
    let batch = sqs_event(&[watches[0].clone(), redelivered(&watches[0], "again")]);
    let outcome = handler
        .run_json(&batch, deadline(Duration::from_secs(10)))
        .await
        .unwrap();
    assert_eq!(outcome.checks.len(), 1, "one check for both messages");
    assert_eq!(outcome.checks[0].asked.len(), 2);
    let answer = serde_json::to_value(handler::answer(&outcome).unwrap()).unwrap();
    assert!(failed_message_ids(&answer).is_empty(), "{answer}");
    let events = subscriber.events().await;
    assert_eq!(events.len(), 1, "{events:#?}");
    let event = &events[0];
    assert_eq!(event["source"], "s3-cloudfront-invalidator");
    assert_eq!(event["detail-type"], "Invalidation Completed");
    let detail = &event["detail"];
    let mut fields: Vec<&str> = detail
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort();
    assert_eq!(
        fields,
        [
            "billed_paths",
            "caller_reference",
            "checks",
            "created_at",
            "distribution_id",
            "event_id",
            "invalidation_id",
            "observed_at",
            "seconds_to_complete"
        ]
    );
    assert_eq!(detail["distribution_id"], distribution.as_str());
    assert_eq!(detail["invalidation_id"], invalidation_id.as_str());
    assert_eq!(
        detail["caller_reference"],
        watch["watch"]["caller_reference"]
    );
    assert_eq!(detail["billed_paths"], 9);
    assert_eq!(detail["created_at"], watch["watch"]["created_at"]);
    let created: Timestamp = detail["created_at"].as_str().unwrap().parse().unwrap();
    let observed: Timestamp = detail["observed_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        detail["seconds_to_complete"],
        observed.seconds_since(created)
    );
    assert_eq!(detail["checks"], 1);
    assert!(
        receive_all(&sqs, &watch_url).await.is_empty(),
        "no longer watched"
    );

    // Delivered again in a later invocation (the guarantee is at least once): the same
    // event_id, which a subscriber dedupes on.
    handler
        .handle_json(
            &sqs_event(&[redelivered(&watches[0], "late")]),
            deadline(Duration::from_secs(10)),
        )
        .await
        .unwrap();
    let again = subscriber.events().await;
    assert_eq!(again.len(), 1);
    assert_eq!(again[0]["detail"]["event_id"], detail["event_id"]);
}

#[tokio::test]
async fn an_invalidation_in_progress_is_checked_later_and_later_then_announced_overdue() {
    let Some(moto) = start_moto().await else {
        return;
    };
    let subscriber = Subscriber::start(&moto).await;
    let (sqs, watch_url) = sqs_queue(&moto.endpoint, "watch").await;
    let fake = fake().await;
    fake.set_complete_after(Duration::from_secs(3600));
    let handler = watching_handler(&fake.endpoint(), &moto, DISTRIBUTION, &watch_url);

    handle_sample(&handler, "s3-put.json").await.unwrap();
    let first = receive_all(&sqs, &watch_url).await;
    assert_eq!(first.len(), 1);
    assert_eq!(body(&first[0])["watch"]["delay_seconds"], 0);
    assert!(body(&first[0])["watch"]["in_progress_at"].is_string());

    let mut message = first[0].clone();
    let mut delays = Vec::new();
    for check in 1..=2u64 {
        let outcome = handler
            .run_json(
                &sqs_event(&[message.clone()]),
                deadline(Duration::from_secs(10)),
            )
            .await
            .unwrap();
        let Ok(Checked::CheckAgain(delay)) = &outcome.checks[0].result else {
            panic!("{:?}", outcome.checks)
        };
        delays.push(*delay);
        // Held back by SQS for its delay, then delivered.
        assert_eq!(delayed_messages(&sqs, &watch_url).await, 1);
        assert!(receive_all(&sqs, &watch_url).await.is_empty());
        tokio::time::sleep(*delay + Duration::from_millis(300)).await;
        let next = receive_all(&sqs, &watch_url).await;
        assert_eq!(next.len(), 1);
        let watch = &body(&next[0])["watch"];
        assert_eq!(watch["checks"], check);
        assert_eq!(watch["delay_seconds"], delay.as_secs());
        message = next[0].clone();
    }
    assert_eq!(delays, [Duration::from_secs(1), Duration::from_secs(2)]);
    assert!(
        subscriber.events().await.is_empty(),
        "nothing announced while in progress"
    );

    // Thirty minutes on: the bound reads only the time since CloudFront's CreateTime, which
    // the check takes from GetInvalidation (a message claiming another is not believed).
    fake.backdate(Duration::from_secs(30 * 60 + 5));
    let mut late = body(&message);
    late["watch"]["created_at"] = json!(Timestamp::from(SystemTime::now()).to_string());
    message["body"] = json!(late.to_string());
    let outcome = handler
        .run_json(&sqs_event(&[message]), deadline(Duration::from_secs(10)))
        .await
        .unwrap();
    assert_eq!(counts(&outcome).invalidations_overdue, 1);
    let answer = serde_json::to_value(handler::answer(&outcome).unwrap()).unwrap();
    assert!(failed_message_ids(&answer).is_empty(), "{answer}");
    let events = subscriber.events().await;
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["detail-type"], "Invalidation Overdue");
    let detail = &events[0]["detail"];
    assert_eq!(
        detail["invalidation_id"],
        fake.invalidations()[0].id.as_str()
    );
    assert!(detail["seconds_in_progress"].as_u64().unwrap() >= 1800);
    assert!(detail.get("seconds_to_complete").is_none());
    assert_eq!(detail["checks"], 3);
    assert_eq!(fake.checked().len(), 3, "one GetInvalidation a check");
    assert_eq!(
        delayed_messages(&sqs, &watch_url).await,
        0,
        "no longer watched"
    );
    assert!(receive_all(&sqs, &watch_url).await.is_empty());
}

#[tokio::test]
async fn a_failed_check_fails_only_its_own_message() {
    let Some(moto) = start_moto().await else {
        return;
    };
    let subscriber = Subscriber::start(&moto).await;
    let (sqs, watch_url) = sqs_queue(&moto.endpoint, "watch").await;
    let fake = fake().await;
    fake.set_complete_after(Duration::ZERO);
    fake.add_tenant("dt_blog", DISTRIBUTION);
    // The tenant is one the configuration names: a check of any other is dropped.
    let tenant_route = format!(
        r#"[{{"distribution_id":"{DISTRIBUTION}","bucket":"example-site"}},{{"distribution_id":"{DISTRIBUTION}","tenant_id":"dt_blog","bucket":"example-site","key_prefix":"tenant-blog/"}}]"#
    );
    let aws = sdk_config(&moto.endpoint);
    let handler = Handler {
        watching: Some(Watching {
            queue: Sqs::new(&aws, &watch_url),
            publisher: EventBridge::new(&aws, BUS),
        }),
        ..crate::common::handler(
            &fake.endpoint(),
            config(&[
                ("ROUTES", tenant_route.as_str()),
                ("INDEX_DOCUMENT", "index.html"),
                ("COMPLETION_EVENTS", BUS),
                ("WATCH_QUEUE_URL", &watch_url),
                ("COMPLETION_CHECK_DELAY_SECONDS", "0"),
            ]),
        )
    };
    handle_sample(&handler, "s3-put.json").await.unwrap();
    let made = receive_all(&sqs, &watch_url).await;
    let good = body(&made[0]);
    // A tenant's invalidation is checked with GetInvalidationForDistributionTenant.
    let mut tenant = good.clone();
    tenant["watch"]["tenant_id"] = json!("dt_blog");
    let mut gone = good.clone();
    gone["watch"]["invalidation_id"] = json!("INOSUCHINVALIDATION");
    let mut upload = event("sqs-batch.json")["Records"][0].clone();
    upload["messageId"] = json!("upload");
    let batch = sqs_event(&[
        queue_message("tenant", &tenant, &watch_url),
        queue_message("gone", &gone, &watch_url),
        upload,
    ]);
    let outcome = handler
        .run_json(&batch, deadline(Duration::from_secs(10)))
        .await
        .unwrap();
    let answer = serde_json::to_value(handler::answer(&outcome).unwrap()).unwrap();
    assert_eq!(failed_message_ids(&answer), ["gone"]);
    let failure = outcome
        .failures()
        .into_iter()
        .find(|f| f.record.starts_with("message gone"))
        .unwrap();
    assert_eq!(
        failure.reason.to_string(),
        "completion check of invalidation INOSUCHINVALIDATION: GetInvalidation failed: invalidation INOSUCHINVALIDATION does not exist (NoSuchInvalidation)"
    );
    assert!(outcome.failed_checks().any(|(_, failure)| matches!(
        failure,
        CheckFailure::Check(SendError::NoSuchInvalidation { .. })
    )));
    let events = subscriber.events().await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["detail"]["tenant_id"], "dt_blog");
    assert_eq!(fake.invalidations().len(), 2, "the upload went out too");
}

#[tokio::test]
async fn a_check_that_cannot_be_queued_hands_back_a_direct_event_but_not_an_sqs_batch() {
    let Some(moto) = start_moto().await else {
        return;
    };
    let fake = fake().await;
    let missing = format!("{}/123456789012/no-such-queue", moto.endpoint);
    let handler = watching_handler(&fake.endpoint(), &moto, DISTRIBUTION, &missing);
    let answer = handler
        .handle_json(&event("sqs-batch.json"), deadline(Duration::from_secs(10)))
        .await
        .unwrap();
    // Redelivered, the messages could come back in other batches, under other references,
    // and be billed again: the batch is acknowledged, the missed check counted.
    assert!(failed_message_ids(&answer).is_empty(), "{answer}");
    assert_eq!(fake.invalidations().len(), 1);
    // A direct event is handed back to Lambda, to retry.
    let error = handle_sample(&handler, "s3-put.json").await.unwrap_err();
    assert!(matches!(error, HandlerError::RetryLater { .. }), "{error}");
    assert!(
        error.to_string().contains(
            "was made, but its completion check was not queued: could not write to the work queue"
        ),
        "{error}"
    );
}

#[tokio::test]
async fn bad_watch_messages_are_rejected_without_blocking_the_batch() {
    let fake = fake().await;
    let handler = handler(
        &fake.endpoint(),
        config(&[
            ("DISTRIBUTION_ID", DISTRIBUTION),
            ("SOURCE_BUCKET", "example-site"),
            ("COMPLETION_EVENTS", BUS),
            ("WATCH_QUEUE_URL", WATCH_URL),
        ]),
    );
    let good = json!({
        "distribution_id": DISTRIBUTION, "invalidation_id": "I2J0I21PCUYOIK",
        "caller_reference": "s3cfi-8ba4276d88916780f8428079bd17d356", "billed_paths": 3,
        "created_at": "2026-11-30T05:11:10.123Z", "checks": 0, "delay_seconds": 60
    });
    let with = |field: &str, value: Value| {
        let mut watch = good.clone();
        watch[field] = value;
        json!({"s3cfi_work": 1, "watch": watch})
    };
    let cases = [
        (
            json!({"s3cfi_work": 2, "watch": good}),
            "format version 2; this function reads 1",
        ),
        (
            with("caller_reference", json!("x".repeat(3000))),
            "bytes; at most 2048",
        ),
        (
            with("invalidation_id", json!("i-lower")),
            "invalidation id \"i-lower\" is not one",
        ),
        (
            with("billed_paths", json!(0)),
            "billed_paths 0 is outside 1 to 3000",
        ),
        (with("checks", json!(32)), "checks 32 is outside 0 to 31"),
        (
            with("delay_seconds", json!(901)),
            "delay_seconds 901 is outside 0 to 900",
        ),
        (
            with("created_at", json!("yesterday")),
            "\"yesterday\" is not an RFC 3339 time in UTC",
        ),
        (with("paths", json!(["/a"])), "unknown field `paths`"),
        (
            json!({"s3cfi_work": 1, "watch": {"distribution_id": DISTRIBUTION}}),
            "missing field",
        ),
        (
            json!({"s3cfi_work": 1, "watch": good, "deferred": {}}),
            "both deferred and watch fields",
        ),
        (json!({"s3cfi_work": 1}), "no deferred or watch field"),
    ];
    for (body, reason) in cases {
        let batch = sqs_event(&[
            queue_message("bad", &body, WATCH_URL),
            event("sqs-batch.json")["Records"][0].clone(),
        ]);
        let outcome = handler
            .run_json(&batch, deadline(Duration::from_secs(5)))
            .await
            .unwrap();
        let rejected = &outcome.plan.rejected;
        assert_eq!(rejected.len(), 1, "{reason}: {rejected:?}");
        let message = rejected[0].reason.to_string();
        assert!(
            message.starts_with("work message is invalid: ") && message.contains(reason),
            "{reason}: {message}"
        );
        let answer = serde_json::to_value(handler::answer(&outcome).unwrap()).unwrap();
        assert_eq!(failed_message_ids(&answer), ["bad"], "{reason}");
    }
    assert!(fake.checked().is_empty(), "nothing bad reached CloudFront");

    // A check for a distribution no longer configured, or while completion events are off,
    // is dropped with its reason, not failed.
    let stale = sqs_event(&[queue_message(
        "old",
        &with("distribution_id", json!("EGONE")),
        WATCH_URL,
    )]);
    let outcome = handler
        .run_json(&stale, deadline(Duration::from_secs(5)))
        .await
        .unwrap();
    assert_eq!(
        outcome.plan.skipped[0].reason.to_string(),
        "work for distribution EGONE, which the configuration no longer names: dropped"
    );
    let answer = serde_json::to_value(handler::answer(&outcome).unwrap()).unwrap();
    assert!(failed_message_ids(&answer).is_empty());
    let off = crate::common::handler(
        &fake.endpoint(),
        config(&[
            ("DISTRIBUTION_ID", DISTRIBUTION),
            ("SOURCE_BUCKET", "example-site"),
            ("WORK_QUEUE_ARN", &queue_arn(WATCH_URL)),
        ]),
    );
    let current = sqs_event(&[queue_message("on", &with("checks", json!(1)), WATCH_URL)]);
    let outcome = off
        .run_json(&current, deadline(Duration::from_secs(5)))
        .await
        .unwrap();
    assert_eq!(
        outcome.plan.skipped[0].reason.to_string(),
        "completion check while COMPLETION_EVENTS is off: dropped"
    );
    assert!(fake.checked().is_empty());
}

/// The real binary, configured from its environment as Lambda would start it: the first check
/// is queued, and when it finds the invalidation completed, the event is published and the time
/// it took is measured per distribution.
#[tokio::test]
async fn the_binary_announces_a_completion_and_measures_how_long_it_took() {
    let Some(moto) = start_moto().await else {
        return;
    };
    let subscriber = Subscriber::start(&moto).await;
    let (sqs, watch_url) = sqs_queue(&moto.endpoint, "watch").await;
    let fake = fake().await;
    fake.set_complete_after(Duration::from_secs(1));
    let runtime = RuntimeApi::start().await.unwrap();
    let mut function = runtime
        .function_command(
            env!("CARGO_BIN_EXE_s3-cloudfront-invalidator"),
            &fake.endpoint(),
        )
        .env("AWS_ENDPOINT_URL_SQS", &moto.endpoint)
        .env("AWS_ENDPOINT_URL_EVENTBRIDGE", &moto.endpoint)
        .env("AWS_LAMBDA_FUNCTION_NAME", "site-invalidator")
        .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
        .env("DISTRIBUTION_ID", DISTRIBUTION)
        .env("COMPLETION_EVENTS", BUS)
        .env("WATCH_QUEUE_URL", &watch_url)
        .env("COMPLETION_CHECK_DELAY_SECONDS", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = collect_output(&mut function);
    let timeout = Duration::from_secs(10);
    let put = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/events/s3-put.json")).unwrap();
    let made = runtime.invoke(put, timeout).await.unwrap();
    assert!(matches!(made.reply, Reply::Response(_)), "{:?}", made.reply);
    let watches = receive_all(&sqs, &watch_url).await;
    assert_eq!(watches.len(), 1);

    tokio::time::sleep(Duration::from_millis(1200)).await;
    let checked = runtime
        .invoke(sqs_event(&watches).to_string(), timeout)
        .await
        .unwrap();
    assert_eq!(
        checked.reply,
        Reply::Response(r#"{"batchItemFailures":[]}"#.into())
    );
    let events = subscriber.events().await;
    assert_eq!(events.len(), 1, "{events:#?}");
    let detail = &events[0]["detail"];
    let invalidation_id = fake.invalidations()[0].id.clone();
    assert_eq!(detail["invalidation_id"], invalidation_id.as_str());
    assert!(
        detail["in_progress_at"].is_string(),
        "seen in progress: {detail}"
    );
    let seconds = detail["seconds_to_complete"].as_u64().unwrap();
    assert!((1..10).contains(&seconds), "{detail}");

    tokio::time::sleep(Duration::from_millis(200)).await;
    let parsed: Vec<Value> = lines
        .lock()
        .unwrap()
        .iter()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    let metric = parsed
        .iter()
        .find(|line| line.get("SecondsToComplete").is_some())
        .expect("a SecondsToComplete line");
    assert_eq!(metric["SecondsToComplete"], seconds);
    assert_eq!(metric["DistributionId"], DISTRIBUTION);
    assert_eq!(metric["InvalidationId"], invalidation_id.as_str());
    assert_eq!(metric["FunctionName"], "site-invalidator");
    assert_eq!(
        metric["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
        json!([["FunctionName", "DistributionId"]])
    );
    assert_eq!(
        metric["_aws"]["CloudWatchMetrics"][0]["Metrics"],
        json!([{"Name": "SecondsToComplete", "Unit": "Seconds"}])
    );
    let completed = parsed
        .iter()
        .find(|line| line["message"] == "invalidation completed")
        .expect("a completion log line");
    assert_eq!(completed["seconds_to_complete"], seconds);
    assert_eq!(completed["event_id"], detail["event_id"]);
    let outcome = parsed
        .iter()
        .rfind(|line| line["message"] == "invalidation outcome")
        .unwrap();
    assert_eq!(outcome["completed"], json!([invalidation_id]));
}
