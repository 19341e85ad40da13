//! Micro-benchmark of the pure part of an invocation: decoding an event and planning its
//! invalidations (`cargo bench --bench plan`), so regressions in the hot path show.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use devtools::events::{s3_event, site_keys, sqs_event};
use s3_cloudfront_invalidator::config::Config;
use s3_cloudfront_invalidator::event::decode;
use s3_cloudfront_invalidator::plan::plan;

fn config() -> Config {
    Config::from_lookup(|name| match name {
        "DISTRIBUTION_ID" => Some("EBENCH".into()),
        "INDEX_DOCUMENT" => Some("index.html".into()),
        _ => None,
    })
    .expect("valid configuration")
}

fn planning(c: &mut Criterion) {
    let config = config();
    let mut group = c.benchmark_group("decode_and_plan");
    for (name, event, keys) in [
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
    ] {
        group.throughput(Throughput::Elements(keys));
        group.bench_function(name, |b| {
            b.iter(|| plan(&decode(&event).expect("a valid event"), &config));
        });
    }
    group.finish();
}

criterion_group!(benches, planning);
criterion_main!(benches);
