//! Micro-benchmarks of the pure part of an invocation (`cargo bench --bench plan`): decoding
//! an event and planning its invalidations, measured apart so a regression in either shows.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use devtools::events::{s3_event, site_keys, sqs_event};
use s3_cloudfront_invalidator::config::Config;
use s3_cloudfront_invalidator::event::decode;
use s3_cloudfront_invalidator::plan::plan;

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
    ]
    .into_iter()
    .map(|(name, event, keys)| (name, event.to_string().into_bytes(), keys))
    .collect()
}

fn decoding(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode");
    for (name, raw, keys) in events() {
        group.throughput(Throughput::Elements(keys));
        group.bench_function(name, |b| b.iter(|| decode(&raw).expect("a valid event")));
    }
    group.finish();
}

fn planning(c: &mut Criterion) {
    let config = Config::from_vars(&[
        ("DISTRIBUTION_ID", "EBENCH"),
        ("INDEX_DOCUMENT", "index.html"),
    ])
    .expect("valid configuration");
    let mut group = c.benchmark_group("plan");
    for (name, raw, keys) in events() {
        let decoded = decode(&raw).expect("a valid event");
        group.throughput(Throughput::Elements(keys));
        group.bench_function(name, |b| b.iter(|| plan(&decoded, &config)));
    }
    group.finish();
}

criterion_group!(benches, decoding, planning);
criterion_main!(benches);
