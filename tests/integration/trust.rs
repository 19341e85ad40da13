//! Trust and limits (docs/trust.md): work messages only from the function's own work queue,
//! deferred paths and completion checks checked again as if planned afresh, never `/*`
//! unasked, a ceiling on the bill, nothing billed twice after a partial failure, and strict,
//! bounded input. Through the real handler, against the CloudFront fake and the SQS and
//! EventBridge stand-in, both over loopback HTTP.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use crate::common::*;
use devtools::fake_cloudfront::{FakeCloudFront, Fault};
use devtools::fake_sqs_eventbridge::FakeSqsEventBridge;
use s3_cloudfront_invalidator::config::Config;
use s3_cloudfront_invalidator::handler::{self, Handler, HandlerError, Watching};
use s3_cloudfront_invalidator::outcome::Outcome;
use s3_cloudfront_invalidator::publish::EventBridge;
use s3_cloudfront_invalidator::queue::{QueueError, Sqs, WorkQueue};
use s3_cloudfront_invalidator::report::counts;
use s3_cloudfront_invalidator::send::CloudFront;
use serde_json::{Value, json};

const BUS: &str = "site-events";

/// The notification queue S3 writes to: anyone the queue policy lets in can write there.
const BUFFER_ARN: &str = "arn:aws:sqs:us-east-1:123456789012:invalidator-buffer";

/// The work queue's URL at the stand-in.
fn work_url(queue: &FakeSqsEventBridge) -> String {
    format!("{}/123456789012/work", queue.endpoint())
}

fn site_vars(queue: &FakeSqsEventBridge, extra: &[(&str, &str)]) -> Config {
    let url = work_url(queue);
    let mut vars = vec![
        ("DISTRIBUTION_ID", DISTRIBUTION),
        ("SOURCE_BUCKET", "example-site"),
        ("INDEX_DOCUMENT", "index.html"),
        ("DEFER_QUEUE_URL", url.as_str()),
        ("DEFER_DELAY_SECONDS", "0"),
        ("COMPLETION_EVENTS", BUS),
        ("WATCH_QUEUE_URL", url.as_str()),
        ("COMPLETION_CHECK_DELAY_SECONDS", "0"),
    ];
    vars.extend_from_slice(extra);
    config(&vars)
}

/// A handler deferring to and watching through `queue` (any [`WorkQueue`] in front of the
/// stand-in), announcing on its bus.
fn handler_with<Q: WorkQueue + Clone>(
    fake: &FakeCloudFront,
    stand_in: &FakeSqsEventBridge,
    queue: Q,
    config: Config,
) -> Handler<CloudFront, Q> {
    let aws = sdk_config(&stand_in.endpoint());
    let plain = crate::common::handler(&fake.endpoint(), config);
    Handler {
        config: plain.config,
        invalidator: plain.invalidator,
        backoff: plain.backoff,
        metrics: None,
        queue: Some(queue.clone()),
        watching: Some(Watching {
            queue,
            publisher: EventBridge::new(&aws, BUS),
        }),
    }
}

async fn site(extra: &[(&str, &str)]) -> (FakeCloudFront, FakeSqsEventBridge, Handler<CloudFront>) {
    let fake = fake().await;
    let stand_in = FakeSqsEventBridge::start().await.unwrap();
    let queue = Sqs::new(&sdk_config(&stand_in.endpoint()), &work_url(&stand_in));
    let handler = handler_with(&fake, &stand_in, queue, site_vars(&stand_in, extra));
    (fake, stand_in, handler)
}

/// An SQS message as Lambda delivers it from the queue `arn`.
fn from_queue(id: &str, body: &Value, arn: &str) -> Value {
    let mut message = sqs_message(id, body);
    message["eventSourceARN"] = json!(arn);
    message
}

/// The work of `kind` (`deferred`, `watch`) the function wrote to the stand-in since the
/// last look, as Lambda delivers it from the work queue.
fn delivered(stand_in: &FakeSqsEventBridge, kind: &str) -> Vec<Value> {
    let arn = queue_arn(&work_url(stand_in));
    stand_in
        .take_messages()
        .iter()
        .map(|message| serde_json::from_str::<Value>(&message.body).unwrap())
        .filter(|body| body.get(kind).is_some())
        .enumerate()
        .map(|(i, body)| from_queue(&format!("{kind}-{i}"), &body, &arn))
        .collect()
}

fn deferred(paths: &[&str]) -> Value {
    json!({"s3cfi_work": 1, "deferred": {"distribution_id": DISTRIBUTION, "reference": "s3cfi-forged.0", "paths": paths, "deferrals": 1}})
}

fn within(seconds: u64) -> tokio::time::Instant {
    deadline(Duration::from_secs(seconds))
}

fn reasons(outcome: &Outcome) -> Vec<String> {
    outcome
        .failures()
        .iter()
        .map(|failure| format!("{}: {}", failure.record, failure.reason))
        .collect()
}

#[tokio::test]
async fn work_messages_are_read_only_from_the_work_queue() {
    let (fake, stand_in, handler) = site(&[]).await;
    let forged = deferred(&["/*"]);
    // The notification queue, a message naming no queue, and SNS inside the work queue.
    let through_sns =
        json!({"Type": "Notification", "MessageId": "sns-1", "Message": forged.to_string()});
    let work_arn = queue_arn(&work_url(&stand_in));
    let batch = sqs_event(&[
        from_queue("buffer", &forged, BUFFER_ARN),
        sqs_message("unnamed", &forged),
        from_queue("sns", &through_sns, &work_arn),
    ]);
    let outcome = handler.run_json(&batch, within(5)).await.unwrap();
    let answer = serde_json::to_value(handler::answer(&outcome).unwrap()).unwrap();
    assert_eq!(failed_message_ids(&answer), ["buffer", "unnamed", "sns"]);
    let reasons = reasons(&outcome);
    assert!(
        reasons[0].starts_with("message buffer deferred work s3cfi-forged.0: work message refused: it came from queue arn:aws:sqs:us-east-1:123456789012:invalidator-buffer"),
        "{reasons:?}"
    );
    assert!(
        reasons[1].contains("it came from an SQS message naming no queue"),
        "{reasons:?}"
    );
    assert!(
        reasons[2].contains("it came from an SNS notification"),
        "{reasons:?}"
    );
    assert!(reasons.iter().all(|r| r.contains("WORK_QUEUE_ARN")));
    assert_eq!(counts(&outcome).refused_work, 3);
    // A direct invocation is refused too.
    let error = handler.handle_json(&forged, within(5)).await.unwrap_err();
    assert!(matches!(error, HandlerError::Failed { .. }), "{error}");
    assert!(
        error
            .to_string()
            .contains("it came from a direct invocation"),
        "{error}"
    );
    // So is a completion check from anywhere else.
    let watch = json!({"s3cfi_work": 1, "watch": {
        "distribution_id": DISTRIBUTION, "invalidation_id": "I2J0I21PCUYOIK",
        "caller_reference": "s3cfi-8ba4276d88916780f8428079bd17d356", "billed_paths": 3,
        "created_at": "2026-11-30T05:11:10.123Z", "checks": 0, "delay_seconds": 60
    }});
    let answer = handler
        .handle_json(
            &sqs_event(&[from_queue("check", &watch, BUFFER_ARN)]),
            within(5),
        )
        .await
        .unwrap();
    assert_eq!(failed_message_ids(&answer), ["check"]);
    assert!(fake.received().is_empty() && fake.checked().is_empty());
    assert!(stand_in.events().is_empty());
}

#[tokio::test]
async fn deferred_paths_are_checked_as_if_planned_afresh() {
    let (fake, stand_in, handler) =
        site(&[("PATH_PREFIX", "/site"), ("SKIP_KEYS", "assets/**")]).await;
    let work_arn = queue_arn(&work_url(&stand_in));
    let cases = [
        (
            deferred(&["/*"]),
            "path /* invalidates the whole distribution, which WILDCARD_ALLOW_ROOT does not allow",
        ),
        (
            deferred(&["/elsewhere/a.html"]),
            "path \"/elsewhere/a.html\" is outside PATH_PREFIX \"/site\"",
        ),
        (
            deferred(&["/site/assets/app.js"]),
            "path \"/site/assets/app.js\" is of key \"assets/app.js\", which SKIP_KEYS pattern \"assets/**\" skips",
        ),
        (
            deferred(&["/site/assets/*"]),
            "SKIP_KEYS pattern \"assets/**\" skips",
        ),
    ];
    for (body, reason) in cases {
        let batch = sqs_event(&[
            from_queue("bad", &body, &work_arn),
            from_queue("good", &deferred(&["/site/ok.html"]), &work_arn),
        ]);
        let outcome = handler.run_json(&batch, within(5)).await.unwrap();
        let answer = serde_json::to_value(handler::answer(&outcome).unwrap()).unwrap();
        assert_eq!(failed_message_ids(&answer), ["bad"], "{reason}");
        let reasons = reasons(&outcome);
        assert!(reasons[0].contains(reason), "{reason}: {reasons:?}");
    }
    // Only the good path ever reached CloudFront.
    let sent: Vec<String> = fake.received().into_iter().flat_map(|r| r.paths).collect();
    assert!(sent.iter().all(|path| path == "/site/ok.html"), "{sent:?}");
    // The function's own deferral passes the same checks.
    fake.inject([Fault::error(400, "TooManyInvalidationsInProgress")]);
    let mut upload = event("s3-put.json");
    upload["Records"][0]["s3"]["bucket"]["name"] = json!("example-site");
    stand_in.take_messages();
    handler.handle_json(&upload, within(5)).await.unwrap();
    let back = delivered(&stand_in, "deferred");
    assert_eq!(back.len(), 1);
    let answer = handler
        .handle_json(&sqs_event(&back), within(5))
        .await
        .unwrap();
    assert!(failed_message_ids(&answer).is_empty(), "{answer}");
}

#[tokio::test]
async fn completion_events_report_what_cloudfront_says_not_what_the_message_claims() {
    let (fake, stand_in, handler) = site(&[]).await;
    fake.set_complete_after(Duration::ZERO);
    handler
        .handle_json(&event("s3-put.json"), within(5))
        .await
        .unwrap();
    let mut checks = delivered(&stand_in, "watch");
    assert_eq!(checks.len(), 1);
    let made = fake.invalidations().remove(0);
    // The message lies about what the invalidation holds and when it was made.
    let mut body: Value = serde_json::from_str(checks[0]["body"].as_str().unwrap()).unwrap();
    body["watch"]["caller_reference"] = json!("s3cfi-claimed");
    body["watch"]["billed_paths"] = json!(3000);
    body["watch"]["created_at"] = json!("2099-01-01T00:00:00Z");
    checks[0]["body"] = json!(body.to_string());
    // And checks of a tenant the configuration does not name are dropped unasked.
    let mut other_tenant = body.clone();
    other_tenant["watch"]["tenant_id"] = json!("dt_other");
    let work_arn = queue_arn(&work_url(&stand_in));
    checks.push(from_queue("tenant", &other_tenant, &work_arn));
    let outcome = handler
        .run_json(&sqs_event(&checks), within(5))
        .await
        .unwrap();
    assert_eq!(
        outcome.plan.skipped[0].reason.to_string(),
        format!(
            "work for distribution {DISTRIBUTION} (tenant dt_other), which the configuration no longer names: dropped"
        )
    );
    let events = stand_in.events();
    assert_eq!(events.len(), 1);
    let detail: Value = serde_json::from_str(&events[0].detail).unwrap();
    assert_eq!(detail["caller_reference"], json!(made.caller_reference));
    assert_eq!(detail["billed_paths"], json!(made.paths.len()));
    let created: s3_cloudfront_invalidator::event::work::Timestamp =
        detail["created_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        created,
        s3_cloudfront_invalidator::event::work::Timestamp::from(made.create_time)
    );
    assert_eq!(
        fake.checked().len(),
        1,
        "the other tenant was never asked for"
    );
}

/// S3's notification for `key` (form-encoded as S3 writes it) in the sample bucket.
fn s3_record(sequencer: usize, key: &str) -> Value {
    let mut record = event("s3-put.json")["Records"][0].clone();
    record["s3"]["object"]["key"] = json!(key);
    record["s3"]["object"]["sequencer"] = json!(format!("{sequencer:016X}"));
    record
}

#[tokio::test]
async fn no_key_makes_the_root_wildcard_unless_it_is_allowed() {
    let (fake, _stand_in, handler) = site(&[]).await;
    let keys = [
        "docs/a.html",
        "*",
        "/a.html",
        "%7Ehome.html",
        "./a.html",
        "../b.html",
        "/",
    ];
    let messages: Vec<Value> = keys
        .iter()
        .enumerate()
        .map(|(i, key)| {
            from_queue(
                &format!("m{i}"),
                &json!({"Records": [s3_record(i, key)]}),
                BUFFER_ARN,
            )
        })
        .collect();
    let outcome = handler
        .run_json(&sqs_event(&messages), within(5))
        .await
        .unwrap();
    let answer = serde_json::to_value(handler::answer(&outcome).unwrap()).unwrap();
    assert_eq!(failed_message_ids(&answer), ["m2", "m4", "m5", "m6"]);
    for reason in reasons(&outcome) {
        assert!(
            reason.contains("can only be invalidated as /*, the whole distribution: set WILDCARD_ALLOW_ROOT=true"),
            "{reason}"
        );
    }
    // The rest of the batch keeps its exact paths; `~` and `*` go escaped.
    let sent: Vec<String> = fake.received().into_iter().flat_map(|r| r.paths).collect();
    assert_eq!(sent, ["/%2A", "/%7Ehome.html", "/docs/a.html"]);
    // Allowed, the whole distribution is what such a key needs.
    let (fake, _stand_in, allowed) = site(&[("WILDCARD_ALLOW_ROOT", "true")]).await;
    let answer = allowed
        .handle_json(&sqs_event(&messages[..3]), within(5))
        .await
        .unwrap();
    assert!(failed_message_ids(&answer).is_empty(), "{answer}");
    let sent: Vec<String> = fake.received().into_iter().flat_map(|r| r.paths).collect();
    assert_eq!(sent, ["/*"]);
}

#[tokio::test]
async fn above_the_cost_guard_the_planner_takes_the_widest_wildcards_allowed() {
    // 150 folders of 8 files: none is busy enough for a wildcard of its own.
    let keys: Vec<String> = (0..1200)
        .map(|i| format!("f{:03}/page-{i}.html", i % 150))
        .collect();
    let upload = json!({"Records": keys.iter().enumerate().map(|(i, key)| s3_record(i, key)).collect::<Vec<_>>()});
    let billed = |outcome: &Outcome| outcome.plan.summary.billed_paths;
    let (_, _, roomy) = site(&[("MAX_BILLED_PATHS", "5000")]).await;
    let outcome = roomy.run_json(&upload, within(10)).await.unwrap();
    assert_eq!(billed(&outcome), 1200);
    let (fake, _, guarded) = site(&[("MAX_BILLED_PATHS", "1000")]).await;
    let outcome = guarded.run_json(&upload, within(10)).await.unwrap();
    // Ten wildcards (WILDCARD_BUDGET) of eight paths each: still above, so sent and said so.
    assert_eq!(billed(&outcome), 1200 - 10 * 8 + 10);
    assert_eq!(outcome.plan.summary.wildcards, 10);
    let sent: usize = fake.invalidations().iter().map(|i| i.paths.len()).sum();
    assert_eq!(sent, 1130);
}

#[tokio::test]
async fn the_wildcard_budget_holds_for_deferred_work() {
    let (fake, stand_in, handler) = site(&[("WILDCARD_BUDGET", "2")]).await;
    let work_arn = queue_arn(&work_url(&stand_in));
    let messages: Vec<Value> = (0..8)
        .map(|i| {
            let paths = [format!("/d{i}a/*"), format!("/d{i}b/*")];
            let body = json!({"s3cfi_work": 1, "deferred": {"distribution_id": DISTRIBUTION, "reference": format!("s3cfi-r{i}.0"), "paths": paths, "deferrals": 1}});
            from_queue(&format!("w{i}"), &body, &work_arn)
        })
        .collect();
    let answer = handler
        .handle_json(&sqs_event(&messages), within(5))
        .await
        .unwrap();
    assert!(failed_message_ids(&answer).is_empty(), "{answer}");
    let received = fake.received();
    assert_eq!(received.len(), 1, "one request of two wildcards");
    assert_eq!(received[0].paths.len(), 2);
    let again: Vec<Value> = delivered(&stand_in, "deferred")
        .iter()
        .map(|m| serde_json::from_str(m["body"].as_str().unwrap()).unwrap())
        .collect();
    let held: usize = again
        .iter()
        .map(|body| body["deferred"]["paths"].as_array().unwrap().len())
        .sum();
    assert_eq!(held, 14, "the other wildcards wait their turn");
    assert!(again.iter().all(|body| body["deferred"]["deferrals"] == 2));
}

/// A queue in front of the stand-in that refuses the writes numbered in `refuse` (from 0).
#[derive(Clone)]
struct Flaky {
    inner: Sqs,
    refuse: &'static [usize],
    writes: std::sync::Arc<Mutex<usize>>,
}

impl WorkQueue for Flaky {
    async fn send(&self, body: String, delay: Duration) -> Result<(), QueueError> {
        let number = {
            let mut writes = self.writes.lock().unwrap();
            *writes += 1;
            *writes - 1
        };
        if self.refuse.contains(&number) {
            return Err(QueueError(format!("write {number} refused by the test")));
        }
        self.inner.send(body, delay).await
    }
}

/// How many times CloudFront was asked to invalidate each path.
fn billed_per_path(fake: &FakeCloudFront) -> BTreeMap<String, usize> {
    let mut billed = BTreeMap::new();
    for invalidation in fake.invalidations() {
        for path in invalidation.paths {
            *billed.entry(path).or_insert(0) += 1;
        }
    }
    billed
}

#[tokio::test]
async fn a_deferral_whose_second_write_fails_bills_no_path_twice() {
    let fake = fake().await;
    let stand_in = FakeSqsEventBridge::start().await.unwrap();
    let queue = Flaky {
        inner: Sqs::new(&sdk_config(&stand_in.endpoint()), &work_url(&stand_in)),
        refuse: &[1],
        writes: Default::default(),
    };
    let handler = handler_with(
        &fake,
        &stand_in,
        queue,
        site_vars(&stand_in, &[("COLLAPSE", "never")]),
    );
    // Paths long enough that the deferral takes two messages; the first message also holds
    // the path sorted last, so its paths would straddle the two if cut in path order.
    let messages: Vec<Value> = (0..1200)
        .map(|i| {
            let key = format!("articles/{i:04}-{}.html", "a-rather-long-title".repeat(5));
            let mut records = vec![s3_record(i, &key)];
            if i == 0 {
                records.push(s3_record(5000, "zzz/last.html"));
            }
            from_queue(&format!("m{i}"), &json!({ "Records": records }), BUFFER_ARN)
        })
        .collect();
    fake.inject([Fault::error(400, "TooManyInvalidationsInProgress")]);
    let answer = handler
        .handle_json(&sqs_event(&messages), within(10))
        .await
        .unwrap();
    let failed: Vec<String> = failed_message_ids(&answer)
        .into_iter()
        .map(str::to_owned)
        .collect();
    let written = delivered(&stand_in, "deferred");
    assert_eq!(written.len(), 1, "the first write went through");
    let written_paths = serde_json::from_str::<Value>(written[0]["body"].as_str().unwrap())
        .unwrap()["deferred"]["paths"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(failed.len() + written_paths, 1201, "each message one way");
    assert!(
        !failed.contains(&"m0".to_string()),
        "written whole, with both its paths"
    );
    // The deferred message comes back on its own; the failed ones one per batch.
    handler
        .handle_json(&sqs_event(&written), within(10))
        .await
        .unwrap();
    for id in &failed {
        let message = messages.iter().find(|m| m["messageId"] == *id).unwrap();
        handler
            .handle_json(&sqs_event(std::slice::from_ref(message)), within(5))
            .await
            .unwrap();
    }
    let billed = billed_per_path(&fake);
    assert_eq!(billed.len(), 1201);
    let twice: Vec<_> = billed.iter().filter(|(_, times)| **times > 1).collect();
    assert!(twice.is_empty(), "billed twice: {}", twice.len());
}

#[tokio::test]
async fn an_unqueued_completion_check_bills_nothing_twice() {
    let fake = fake().await;
    let stand_in = FakeSqsEventBridge::start().await.unwrap();
    let queue = Flaky {
        inner: Sqs::new(&sdk_config(&stand_in.endpoint()), &work_url(&stand_in)),
        refuse: &[0],
        writes: Default::default(),
    };
    let handler = handler_with(&fake, &stand_in, queue, site_vars(&stand_in, &[]));
    let batch = event("sqs-batch.json");
    let outcome = handler.run_json(&batch, within(5)).await.unwrap();
    assert_eq!(counts(&outcome).invalidations_unwatched, 1);
    let answer = serde_json::to_value(handler::answer(&outcome).unwrap()).unwrap();
    // Whatever comes back comes back one message per batch, under other references.
    for id in failed_message_ids(&answer) {
        let message = batch["Records"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["messageId"] == id)
            .unwrap();
        handler
            .handle_json(&sqs_event(std::slice::from_ref(message)), within(5))
            .await
            .unwrap();
    }
    assert!(billed_per_path(&fake).values().all(|times| *times == 1));
}

#[tokio::test]
async fn a_field_given_twice_is_refused_for_its_message() {
    let (fake, _stand_in, handler) = site(&[]).await;
    let good = s3_record(1, "news/today.html");
    let twice = format!(r#"{{"Records":[],"Records":[{good}]}}"#);
    let error = handler
        .handle(twice.as_bytes(), within(5))
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("duplicate field `Records`"),
        "{error}"
    );
    let batch = sqs_event(&[
        json!({"messageId": "twice", "body": twice, "eventSource": "aws:sqs", "eventSourceARN": BUFFER_ARN}),
        from_queue(
            "once",
            &json!({"Records": [s3_record(2, "news/other.html")]}),
            BUFFER_ARN,
        ),
    ]);
    let outcome = handler.run_json(&batch, within(5)).await.unwrap();
    let answer = serde_json::to_value(handler::answer(&outcome).unwrap()).unwrap();
    assert_eq!(failed_message_ids(&answer), ["twice"]);
    assert!(reasons(&outcome)[0].contains("duplicate field `Records`"));
    let sent: Vec<String> = fake.received().into_iter().flat_map(|r| r.paths).collect();
    assert_eq!(sent, ["/news/other.html"]);
}

#[tokio::test]
async fn log_lines_stay_bounded_whatever_the_sender_wrote() {
    let (_fake, stand_in, handler) = site(&[]).await;
    let work_arn = queue_arn(&work_url(&stand_in));
    let huge = "r".repeat(200_000);
    let messages: Vec<Value> = (0..20)
        .map(|i| {
            let body = json!({"s3cfi_work": 1, "deferred": {"distribution_id": DISTRIBUTION, "reference": huge, "paths": ["/a.html"], "deferrals": 1}});
            from_queue(&format!("w{i}-{huge}"), &body, &work_arn)
        })
        .collect();
    let outcome = handler
        .run_json(&sqs_event(&messages), within(5))
        .await
        .unwrap();
    let reasons = reasons(&outcome);
    assert_eq!(reasons.len(), 20);
    for reason in &reasons {
        assert!(reason.len() < 1_200, "{} bytes", reason.len());
        assert!(reason.contains("reference \"rrrr"), "{reason}");
    }
    let error = handler
        .handle_json(
            &messages[0]["body"]
                .as_str()
                .map(|b| serde_json::from_str::<Value>(b).unwrap())
                .unwrap(),
            within(5),
        )
        .await
        .unwrap_err();
    assert!(error.to_string().len() < 1_200);
}
