//! Local stand-ins for AWS used by tests, the demo and the benchmarks.

pub mod fake_cloudfront;
pub mod runtime_api;
