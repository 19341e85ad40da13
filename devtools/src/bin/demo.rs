//! `make demo`: the real function binary under a local Lambda Runtime API, invalidating
//! on a CloudFront fake that honours CallerReference, fed with the samples in events/. The
//! function runs with SKIP_KEYS and CLEAN_URLS, as a site with fingerprinted bundles and
//! extensionless URLs would; then the completion checks it queued are handed back as its SQS
//! event source would, until the "Invalidation Completed" events reach a stand-in bus.
//!
//! Usage: demo FUNCTION_BINARY EVENTS_DIR

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use devtools::events::{site_keys, sqs_event};
use devtools::fake_cloudfront::{Answer, FakeCloudFront};
use devtools::fake_sqs_eventbridge::{FakeSqsEventBridge, Message};
use devtools::runtime_api::{Invoked, Reply, RuntimeApi};
use serde_json::{Value, json};
use tokio::process::Child;

const DISTRIBUTION: &str = "EDEMO1EXAMPLE";
/// Fingerprinted bundles never change under their name, and source maps are not served.
const SKIP_KEYS: &str = "static/**,**/*.map";
const BUS: &str = "site-events";
const TIMEOUT: Duration = Duration::from_secs(30);

const SCRIPT: &[(&str, &str)] = &[
    ("s3-put.json", "S3 notification: index.html uploaded"),
    (
        "s3-special-keys.json",
        "S3 notification: keys with spaces, +, unicode, ~, % and ?",
    ),
    (
        "s3-site-release.json",
        "a site release: SKIP_KEYS leaves out the bundle and its source map, CLEAN_URLS adds /blog/hello-world",
    ),
    ("sqs-batch.json", "SQS batch of three S3 notifications"),
    ("sqs-sns.json", "SQS batch of SNS-wrapped S3 notifications"),
    ("eventbridge-deleted.json", "EventBridge: Object Deleted"),
    (
        "s3-test-event.json",
        "s3:TestEvent sent when notifications are configured",
    ),
    (
        "bad-sqs-partial.json",
        "SQS batch with one unreadable message",
    ),
    (
        "bad-other-service.json",
        "an API Gateway event sent by mistake",
    ),
];

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(binary), Some(events)) = (args.next(), args.next()) else {
        eprintln!("usage: demo FUNCTION_BINARY EVENTS_DIR");
        std::process::exit(2);
    };
    let outcome = tokio::select! {
        outcome = run(PathBuf::from(binary), PathBuf::from(events)) => outcome,
        _ = tokio::signal::ctrl_c() => Err("interrupted".to_string()),
    };
    // Returning drops the function process (kill_on_drop) and the servers with the runtime.
    if let Err(message) = outcome {
        eprintln!("demo failed: {message}");
        std::process::exit(1);
    }
}

async fn run(binary: PathBuf, events: PathBuf) -> Result<(), String> {
    let fake = FakeCloudFront::start(&[DISTRIBUTION], Duration::from_secs(120))
        .await
        .map_err(|e| e.to_string())?;
    let runtime = RuntimeApi::start().await.map_err(|e| e.to_string())?;
    let queue_and_bus = FakeSqsEventBridge::start()
        .await
        .map_err(|e| e.to_string())?;
    println!(
        "CloudFront fake on {} (distribution {DISTRIBUTION}); SQS and EventBridge stand-in on {} (bus {BUS}); Lambda Runtime API on {}",
        fake.endpoint(),
        queue_and_bus.endpoint(),
        runtime.host()
    );
    println!(
        "function settings: INDEX_DOCUMENT=index.html SKIP_KEYS={SKIP_KEYS} CLEAN_URLS=true COMPLETION_EVENTS={BUS}"
    );
    let mut function = start_function(&binary, &runtime, &fake, &queue_and_bus)?;
    let init = runtime
        .first_poll(Duration::from_secs(10))
        .await
        .ok_or("the function never asked for an event")?;
    println!(
        "function {} is up ({:?} after start)\n",
        binary.display(),
        init.elapsed()
    );

    for (file, what) in SCRIPT {
        invoke(
            &runtime,
            &fake,
            &format!("{file}: {what}"),
            read(&events.join(file))?,
        )
        .await?;
    }
    let deploy = sqs_event(&site_keys(3000, 150)).to_string().into_bytes();
    invoke(
        &runtime,
        &fake,
        "generated SQS batch: a site deploy of 3,000 files in 150 folders (Queued mode)",
        deploy,
    )
    .await?;

    completion_checks(&runtime, &fake, &queue_and_bus).await?;

    println!("== s3-put.json again: a retried or re-delivered event");
    let before = fake.invalidations().len();
    let reply = runtime
        .invoke(read(&events.join("s3-put.json"))?, TIMEOUT)
        .await?;
    let last = fake
        .received()
        .pop()
        .ok_or("no request reached CloudFront")?;
    match (&reply.reply, &last.answer) {
        (Reply::Response(_), Answer::Reused(id)) if fake.invalidations().len() == before => {
            println!(
                "   same CallerReference {} -> CloudFront returned invalidation {id} again; still {before} invalidations, nothing new billed\n",
                last.caller_reference
            )
        }
        other => return Err(format!("re-delivery was not deduplicated: {other:?}")),
    }
    function.kill().await.map_err(|e| e.to_string())?;
    println!(
        "done: {} invalidations created for {} events",
        fake.invalidations().len(),
        SCRIPT.len() + 2
    );
    Ok(())
}

/// Hands the completion checks the function queued back to it, as its SQS event source would
/// once their delay is over (the demo does not wait it out): first while CloudFront still has
/// the invalidations in progress, then after they complete.
async fn completion_checks(
    runtime: &RuntimeApi,
    fake: &FakeCloudFront,
    queue_and_bus: &FakeSqsEventBridge,
) -> Result<(), String> {
    let checks = queue_and_bus.take_messages();
    println!(
        "== completion checks: the function queued {} (one per invalidation), due after {}; handed back now, while CloudFront has them in progress",
        checks.len(),
        delays(&checks)
    );
    print_reply(&runtime.invoke(delivered(&checks), TIMEOUT).await?);
    let again = queue_and_bus.take_messages();
    println!(
        "   still InProgress: {} checks queued again, due after {} (each wait twice the one before)
",
        again.len(),
        delays(&again)
    );
    fake.set_complete_after(Duration::ZERO);
    println!("== the same checks after CloudFront completed the invalidations");
    print_reply(&runtime.invoke(delivered(&again), TIMEOUT).await?);
    let events = queue_and_bus.events();
    let Some(first) = events.first() else {
        return Err("no event reached the bus".into());
    };
    println!(
        "   published to bus {} ({} events, one per invalidation); the first, source {}, detail-type {:?}, detail:\n   {}",
        first.bus,
        events.len(),
        first.source,
        first.detail_type,
        first.detail
    );
    println!(
        "   (seconds_to_complete is tiny: the fake completes on request; CloudFront takes a minute or so)\n"
    );
    if !queue_and_bus.take_messages().is_empty() {
        return Err("completed invalidations are still watched".into());
    }
    Ok(())
}

/// The queued messages as the records of one Lambda SQS event.
fn delivered(messages: &[Message]) -> Vec<u8> {
    let records: Vec<Value> = messages
        .iter()
        .enumerate()
        .map(|(i, message)| json!({"messageId": format!("check-{i}"), "body": message.body, "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:watch"}))
        .collect();
    json!({ "Records": records }).to_string().into_bytes()
}

fn delays(messages: &[Message]) -> String {
    let mut delays: Vec<u64> = messages.iter().map(|m| m.delay_seconds).collect();
    delays.dedup();
    let delays: Vec<String> = delays.iter().map(|d| format!("{d} s")).collect();
    delays.join(", ")
}

fn start_function(
    binary: &Path,
    runtime: &RuntimeApi,
    fake: &FakeCloudFront,
    queue_and_bus: &FakeSqsEventBridge,
) -> Result<Child, String> {
    runtime
        .function_command(binary, &fake.endpoint())
        .env("AWS_LAMBDA_LOG_LEVEL", "WARN")
        .env("DISTRIBUTION_ID", DISTRIBUTION)
        .env("SOURCE_BUCKET", "example-site")
        .env("INDEX_DOCUMENT", "index.html")
        .env("SKIP_KEYS", SKIP_KEYS)
        .env("CLEAN_URLS", "true")
        .env("COMPLETION_EVENTS", BUS)
        .env(
            "WATCH_QUEUE_URL",
            format!("{}/123456789012/watch", queue_and_bus.endpoint()),
        )
        .env("AWS_ENDPOINT_URL_SQS", queue_and_bus.endpoint())
        .env("AWS_ENDPOINT_URL_EVENTBRIDGE", queue_and_bus.endpoint())
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| {
            format!(
                "cannot start {}: {e} (run `make demo`, which builds it)",
                binary.display()
            )
        })
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

async fn invoke(
    runtime: &RuntimeApi,
    fake: &FakeCloudFront,
    title: &str,
    event: Vec<u8>,
) -> Result<(), String> {
    println!("== {title}");
    let known = fake.invalidations().len();
    print_reply(&runtime.invoke(event, TIMEOUT).await?);
    let created = &fake.invalidations()[known..];
    if created.is_empty() {
        println!("   CloudFront: no new invalidation");
    }
    for invalidation in created {
        println!(
            "   CloudFront now holds {}  CallerReference {}  paths {:?}",
            invalidation.id, invalidation.caller_reference, invalidation.paths
        );
    }
    println!();
    Ok(())
}

fn print_reply(invoked: &Invoked) {
    let (kind, body) = match &invoked.reply {
        Reply::Response(body) => ("answer", body),
        Reply::Error(body) => ("error", body),
    };
    println!(
        "   function {kind} after {:.1} ms: {}",
        invoked.handled_in.as_secs_f64() * 1000.0,
        shorten(body)
    );
    // What was left out on purpose, and why (SKIP_KEYS names its pattern).
    let answer: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    for skipped in answer["skipped"].as_array().into_iter().flatten() {
        println!(
            "   skipped {}: {}",
            skipped["record"].as_str().unwrap_or_default(),
            skipped["reason"].as_str().unwrap_or_default()
        );
    }
}

fn shorten(text: &str) -> String {
    const KEEP: usize = 220;
    match text.char_indices().nth(KEEP) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}
