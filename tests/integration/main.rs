//! The integration tests, one binary with a module per area (as ripgrep's `tests/tests.rs`):
//! one link of the AWS SDK instead of one per file, and `cargo test --test integration AREA::`
//! selects an area.

mod common;

mod bad_input;
mod bulk_deploy;
mod completion;
mod cross_account;
mod defer;
mod discovery;
mod doctor;
mod fake_cloudfront;
mod moto;
mod observability;
mod plan_cli;
mod runtime;
mod simulate;
mod tenants;
mod trust;
