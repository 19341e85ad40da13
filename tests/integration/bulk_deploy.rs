//! Bulk uploads end to end against the faithful CloudFront fake, which enforces the
//! in-progress limits (3,000 paths, 15 wildcards) until invalidations complete.
//!
//! Time runs fast here (the fake completes invalidations in 300 ms); the deploys at
//! CloudFront's real pace are simulated in virtual time by the `simulate` module.

use std::collections::{BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use crate::common::*;
use devtools::events::{site_keys, sqs_message};
use devtools::fake_cloudfront::{Answer, FakeCloudFront};
use s3_cloudfront_invalidator::handler::Handler;
use s3_cloudfront_invalidator::send::{Backoff, CloudFront};
use serde_json::{Value, json};

fn covered(path: &str, sent: &BTreeSet<String>) -> bool {
    sent.contains(path)
        || sent
            .iter()
            .filter_map(|s| s.strip_suffix('*'))
            .any(|prefix| path.starts_with(prefix))
}

#[derive(Debug, Default)]
struct Figures {
    invocations: usize,
    calls: usize,
    created: usize,
    billed_paths: usize,
    wildcards: usize,
    retries: usize,
    redelivered: usize,
    elapsed: Duration,
}

/// Feeds messages to the handler in SQS batches of `batch_size`; failed messages return
/// to the back of the queue, as they do after their visibility timeout.
async fn drain(
    handler: &Handler<CloudFront>,
    messages: Vec<Value>,
    batch_size: usize,
    invocation_time: Duration,
) -> Figures {
    let mut queue: VecDeque<Value> = messages.into();
    let mut figures = Figures::default();
    let started = Instant::now();
    // Bounded by invocations, not by the clock (a loaded machine is slower, not wrong): ten
    // deliveries of every batch is far past what a drain needs; reaching it means work that
    // never leaves the queue.
    let max_invocations = 10 * queue.len().div_ceil(batch_size);
    while !queue.is_empty() && figures.invocations < max_invocations {
        let batch: Vec<Value> = queue.drain(..batch_size.min(queue.len())).collect();
        let event = json!({ "Records": batch });
        let answer = handler
            .handle_json(&event, deadline(invocation_time))
            .await
            .unwrap();
        figures.invocations += 1;
        let failed: BTreeSet<&str> = failed_message_ids(&answer).into_iter().collect();
        figures.redelivered += failed.len();
        for message in event["Records"].as_array().unwrap() {
            if failed.contains(message["messageId"].as_str().unwrap()) {
                queue.push_back(message.clone());
            }
        }
    }
    assert!(
        queue.is_empty(),
        "{} messages still queued after {max_invocations} invocations",
        queue.len()
    );
    figures.elapsed = started.elapsed();
    figures
}

fn tally(fake: &FakeCloudFront, figures: &mut Figures) -> BTreeSet<String> {
    let received = fake.received();
    figures.calls = received.len();
    figures.retries = received
        .iter()
        .filter(|r| !matches!(r.answer, Answer::Created(_) | Answer::Reused(_)))
        .count();
    let invalidations = fake.invalidations();
    figures.created = invalidations.len();
    figures.billed_paths = invalidations.iter().map(|i| i.paths.len()).sum();
    figures.wildcards = invalidations
        .iter()
        .flat_map(|i| &i.paths)
        .filter(|p| p.ends_with('*'))
        .count();
    invalidations.into_iter().flat_map(|i| i.paths).collect()
}

fn usd(paths: usize) -> f64 {
    paths.saturating_sub(1000) as f64 * 0.005
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_thousand_object_deploy_is_covered_cheaply_with_nothing_lost() {
    const OBJECTS: usize = 50_000;
    // Time runs fast here: invalidations complete after 300 ms instead of minutes, and an
    // invocation has 2 s instead of 60 s, so the in-progress limits bite as they would.
    let fake = FakeCloudFront::start(&[DISTRIBUTION], Duration::from_millis(300))
        .await
        .unwrap();
    let mut handler = handler(&fake.endpoint(), site_config(DISTRIBUTION));
    handler.backoff = Backoff {
        first: Duration::from_millis(20),
        max: Duration::from_millis(200),
    };
    let keys = site_keys(OBJECTS, 500);
    let messages: Vec<Value> = keys
        .iter()
        .enumerate()
        .map(|(i, key)| sqs_message(i, key))
        .collect();

    let mut batched = drain(&handler, messages.clone(), 3000, Duration::from_secs(2)).await;
    let sent = tally(&fake, &mut batched);
    let uncovered: Vec<&String> = keys
        .iter()
        .filter(|k| !covered(&format!("/{}", k.replace(' ', "%20")), &sent))
        .collect();
    assert!(
        uncovered.is_empty(),
        "{} keys not invalidated, e.g. {:?}",
        uncovered.len(),
        uncovered.first()
    );

    // Naive: every object its own exact path, one request per notification batch of one.
    let naive_fake = FakeCloudFront::start(&[DISTRIBUTION], Duration::from_millis(300))
        .await
        .unwrap();
    let mut naive_handler = crate::common::handler(
        &naive_fake.endpoint(),
        config(&[
            ("DISTRIBUTION_ID", DISTRIBUTION),
            ("COLLAPSE", "never"),
            ("INVALIDATE_PLUS_ALIAS", "false"),
        ]),
    );
    naive_handler.backoff = handler.backoff;
    let naive_sample = 6_000;
    let mut naive = drain(
        &naive_handler,
        messages[..naive_sample].to_vec(),
        1,
        Duration::from_secs(2),
    )
    .await;
    tally(&naive_fake, &mut naive);

    let scale = OBJECTS as f64 / naive_sample as f64;
    println!(
        "\n50,000-object deploy through SQS (batches of 3,000), fake CloudFront with in-progress limits:"
    );
    println!(
        "| strategy | invocations | CreateInvalidation calls | invalidations | billed paths | wildcards | retried calls | redelivered messages | time | cost beyond free tier |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    println!(
        "| this function (defaults) | {} | {} | {} | {} | {} | {} | {} | {:.1} s | USD {:.2} |",
        batched.invocations,
        batched.calls,
        batched.created,
        batched.billed_paths,
        batched.wildcards,
        batched.retries,
        batched.redelivered,
        batched.elapsed.as_secs_f64(),
        usd(batched.billed_paths)
    );
    println!(
        "| naive, one exact path per object (measured on {naive_sample}, scaled x{scale:.2}) | {:.0} | {:.0} | {:.0} | {:.0} | 0 | {:.0} | {:.0} | {:.1} s | USD {:.2} |",
        naive.invocations as f64 * scale,
        naive.calls as f64 * scale,
        naive.created as f64 * scale,
        naive.billed_paths as f64 * scale,
        naive.retries as f64 * scale,
        naive.redelivered as f64 * scale,
        naive.elapsed.as_secs_f64() * scale,
        usd((naive.billed_paths as f64 * scale) as usize)
    );
    println!("every one of {OBJECTS} keys covered: yes\n");

    assert!(batched.billed_paths <= 100, "{batched:?}");
    assert!(batched.created <= 30, "{batched:?}");
    assert_eq!(naive.billed_paths, naive_sample);
}

#[tokio::test]
async fn three_thousand_message_batch_over_150_folders_bills_at_most_15_paths() {
    let fake = FakeCloudFront::start(&[DISTRIBUTION], Duration::from_secs(60))
        .await
        .unwrap();
    let handler = handler(&fake.endpoint(), site_config(DISTRIBUTION));
    let sections = ["blog", "docs", "assets"];
    let messages: Vec<Value> = (0..3000)
        .map(|i| {
            let folder = i % 150;
            sqs_message(
                i,
                &format!("{}/f{folder:03}/file-{i}.html", sections[folder % 3]),
            )
        })
        .collect();
    let started = Instant::now();
    let answer = handler
        .handle_json(
            &json!({ "Records": messages }),
            deadline(Duration::from_secs(10)),
        )
        .await
        .unwrap();
    println!("3,000-message batch handled in {:?}", started.elapsed());
    assert_eq!(answer["batchItemFailures"], json!([]));
    let invalidations = fake.invalidations();
    let billed: usize = invalidations.iter().map(|i| i.paths.len()).sum();
    assert!(billed <= 15, "{billed} billed paths: {invalidations:?}");
    assert_eq!(invalidations[0].paths, ["/assets/*", "/blog/*", "/docs/*"]);
}

#[tokio::test]
async fn persistent_too_many_in_progress_fails_only_the_affected_messages() {
    let fake = FakeCloudFront::start(&[DISTRIBUTION, "EOTHER"], Duration::from_secs(600))
        .await
        .unwrap();
    let routes = r#"[{"bucket":"example-site","key_prefix":"a/","distribution_id":"EDFDVBD6EXAMPLE"},{"bucket":"example-site","key_prefix":"b/","distribution_id":"EOTHER"}]"#;
    let handler = crate::common::handler(&fake.endpoint(), config(&[("ROUTES", routes)]));
    // Fill the first distribution's in-progress paths: its next request is refused.
    let filler: Vec<Value> = (0..3000)
        .map(|i| sqs_message(i, &format!("a/filler-{i:04}/x")))
        .collect();
    let policy_never = crate::common::handler(
        &fake.endpoint(),
        config(&[("ROUTES", routes), ("COLLAPSE", "never")]),
    );
    policy_never
        .handle_json(
            &json!({ "Records": filler }),
            deadline(Duration::from_secs(10)),
        )
        .await
        .unwrap();
    assert_eq!(fake.invalidations().len(), 1);

    let batch =
        json!({ "Records": [sqs_message(5000, "a/new.html"), sqs_message(5001, "b/new.html")] });
    let answer = handler
        .handle_json(&batch, deadline(Duration::from_millis(300)))
        .await
        .unwrap();
    assert_eq!(
        answer["batchItemFailures"],
        json!([{"itemIdentifier": "msg-00005000"}])
    );
    let refused: Vec<_> = fake
        .received()
        .into_iter()
        .filter(|r| r.answer == Answer::Error("TooManyInvalidationsInProgress".into()))
        .collect();
    assert!(refused.len() >= 2, "retried while time allowed");
    assert!(
        refused
            .iter()
            .all(|r| r.caller_reference == refused[0].caller_reference && r.paths == ["/new.html"])
    );

    // When the message comes back alone after the filler completed, it goes through.
    fake.set_complete_after(Duration::ZERO);
    let retry = json!({ "Records": [sqs_message(5000, "a/new.html")] });
    let answer = handler
        .handle_json(&retry, deadline(Duration::from_secs(5)))
        .await
        .unwrap();
    assert_eq!(answer["batchItemFailures"], json!([]));
    let created: Vec<(String, Vec<String>)> = fake
        .invalidations()
        .into_iter()
        .skip(1)
        .map(|i| (i.distribution_id, i.paths))
        .collect();
    assert_eq!(
        created,
        [
            ("EOTHER".to_string(), vec!["/new.html".to_string()]),
            (DISTRIBUTION.to_string(), vec!["/new.html".to_string()])
        ]
    );
}
