//! Micro-benchmarks of the pure part of an invocation (`cargo bench --bench plan`): decoding
//! an event and planning its invalidations, measured apart so a regression in either shows,
//! next to the floor decoding stands on: serde_json's own typed, borrowed parse of the same
//! bytes into the fields used, doing nothing with them. First, a counting allocator reports
//! what each step allocates at its peak, written to bench/out/memory.md for bench/RESULTS.md.

use std::alloc::{GlobalAlloc, Layout, System};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};

use std::borrow::Cow;

use criterion::{Criterion, Throughput, criterion_group};
use devtools::events::{s3_event, site_keys, sqs_event};
use s3_cloudfront_invalidator::config::Config;
use s3_cloudfront_invalidator::event::decode;
use s3_cloudfront_invalidator::plan::plan;
use serde::Deserialize;

/// The system allocator, keeping count of the bytes live and their peak.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(live, Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on unchanged.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > layout.size() {
            let live = LIVE.fetch_add(new_size - layout.size(), Ordering::Relaxed)
                + (new_size - layout.size());
            PEAK.fetch_max(live, Ordering::Relaxed);
        } else {
            LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
        }
        // SAFETY: the caller's contract is passed on unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `step` and returns its result with the peak bytes it allocated beyond what was live
/// before, and the bytes still live from it afterwards.
fn measured<T>(step: impl FnOnce() -> T) -> (T, usize, usize) {
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let result = step();
    let peak = PEAK.load(Ordering::Relaxed) - before;
    let kept = LIVE.load(Ordering::Relaxed).saturating_sub(before);
    (result, peak, kept)
}

fn config() -> Config {
    Config::from_vars(&[
        ("DISTRIBUTION_ID", "EBENCH"),
        ("INDEX_DOCUMENT", "index.html"),
    ])
    .expect("valid configuration")
}

fn events() -> Vec<(&'static str, Vec<u8>, u64)> {
    vec![
        ("one-record put", s3_event(&site_keys(1, 1)), 1),
        (
            "3,000-message SQS batch",
            sqs_event(&site_keys(3000, 150)),
            3000,
        ),
        (
            "10,000-record event",
            s3_event(&site_keys(10_000, 500)),
            10_000,
        ),
        // The event `make bench` times `plan` on, whole process.
        (
            "100,000-key event",
            s3_event(&site_keys(100_000, 1000)),
            100_000,
        ),
    ]
    .into_iter()
    .map(|(name, event, keys)| (name, event.to_string().into_bytes(), keys))
    .collect()
}

fn mb(bytes: usize) -> f64 {
    bytes as f64 / 1_000_000.0
}

/// Peak and retained allocations of each step, as a Markdown table.
fn memory_report() -> String {
    let config = config();
    let mut table = String::from(
        "| event | payload | decoding: peak | decoded changes kept | planning: peak |\n|---|---|---|---|---|\n",
    );
    for (name, raw, _) in events() {
        let (decoded, decode_peak, kept) = measured(|| decode(&raw).expect("a valid event"));
        let (_, plan_peak, _) = measured(|| plan(&decoded, &config));
        let _ = writeln!(
            table,
            "| {name} | {:.2} MB | {:.2} MB | {:.2} MB | {:.2} MB |",
            mb(raw.len()),
            mb(decode_peak),
            mb(kept),
            mb(plan_peak)
        );
    }
    table
}

fn decoding(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode");
    for (name, raw, keys) in events() {
        group.throughput(Throughput::Elements(keys));
        // A tenth of a second an iteration: ten samples, not a hundred.
        group.sample_size(if keys >= 100_000 { 10 } else { 100 });
        group.bench_function(name, |b| b.iter(|| decode(&raw).expect("a valid event")));
    }
    group.finish();
}

fn planning(c: &mut Criterion) {
    let config = config();
    let mut group = c.benchmark_group("plan");
    for (name, raw, keys) in events() {
        let decoded = decode(&raw).expect("a valid event");
        group.throughput(Throughput::Elements(keys));
        // A tenth of a second an iteration: ten samples, not a hundred.
        group.sample_size(if keys >= 100_000 { 10 } else { 100 });
        group.bench_function(name, |b| b.iter(|| plan(&decoded, &config)));
    }
    group.finish();
}

/// The fields the function reads, as plain borrowed types: what serde_json alone costs.
#[derive(Deserialize)]
struct Records<T> {
    #[serde(rename = "Records")]
    records: Vec<T>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Message<'a> {
    #[serde(borrow)]
    message_id: Cow<'a, str>,
    #[serde(borrow)]
    event_source: Cow<'a, str>,
    #[serde(borrow)]
    body: Cow<'a, str>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct S3Record<'a> {
    #[serde(borrow)]
    event_name: Cow<'a, str>,
    #[serde(borrow)]
    event_time: Cow<'a, str>,
    #[serde(borrow)]
    response_elements: ResponseElements<'a>,
    #[serde(borrow)]
    s3: Entity<'a>,
}

#[derive(Deserialize)]
struct ResponseElements<'a> {
    #[serde(rename = "x-amz-request-id", borrow)]
    request_id: Cow<'a, str>,
}

#[derive(Deserialize)]
struct Entity<'a> {
    #[serde(borrow)]
    bucket: Bucket<'a>,
    #[serde(borrow)]
    object: Object<'a>,
}

#[derive(Deserialize)]
struct Bucket<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Object<'a> {
    #[serde(borrow)]
    key: Cow<'a, str>,
    #[serde(borrow)]
    sequencer: Cow<'a, str>,
    #[serde(borrow)]
    e_tag: Cow<'a, str>,
}

/// The bytes of the fields of an S3 record: reads each, as decoding does.
fn field_bytes(record: &S3Record) -> usize {
    [
        &record.event_name,
        &record.event_time,
        &record.response_elements.request_id,
        &record.s3.bucket.name,
        &record.s3.object.key,
        &record.s3.object.sequencer,
        &record.s3.object.e_tag,
    ]
    .iter()
    .map(|field| field.len())
    .sum()
}

/// Parses `raw` (an SQS batch of S3 notifications, or an S3 event) and every body in it.
fn parse_only(raw: &[u8], sqs: bool) -> usize {
    if !sqs {
        let event: Records<S3Record> = serde_json::from_slice(raw).expect("an S3 event");
        return event.records.iter().map(field_bytes).sum();
    }
    let batch: Records<Message> = serde_json::from_slice(raw).expect("an SQS batch");
    batch
        .records
        .iter()
        .map(|message| {
            let body: Records<S3Record> =
                serde_json::from_str(&message.body).expect("an S3 notification");
            let records: usize = body.records.iter().map(field_bytes).sum();
            records + message.message_id.len() + message.event_source.len()
        })
        .sum()
}

fn parsing(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");
    for (name, raw, keys) in events().into_iter().skip(1) {
        let sqs = name.contains("SQS");
        group.throughput(Throughput::Elements(keys));
        // A tenth of a second an iteration: ten samples, not a hundred.
        group.sample_size(if keys >= 100_000 { 10 } else { 100 });
        group.bench_function(name, |b| b.iter(|| parse_only(&raw, sqs)));
    }
    group.finish();
}

criterion_group!(benches, decoding, parsing, planning);

fn main() {
    let report = memory_report();
    println!("{report}");
    let out = concat!(env!("CARGO_MANIFEST_DIR"), "/bench/out");
    if std::fs::create_dir_all(out).is_ok() {
        let _ = std::fs::write(format!("{out}/memory.md"), &report);
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
