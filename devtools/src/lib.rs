//! Local stand-ins for AWS used by tests, the demo and the benchmarks.

pub mod events;
pub mod fake_cloudfront;
pub mod runtime_api;
