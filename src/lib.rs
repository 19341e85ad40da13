//! Keeps a CloudFront distribution fresh when objects change in the S3 bucket behind it.
//!
//! The flow, one module each: [`event`] decodes whatever Lambda delivered into changes,
//! [`route`] and [`path`] map each change to CloudFront paths, [`plan`] turns them into
//! requests with idempotent caller references (pure, no I/O), [`send`] calls
//! CreateInvalidation with retries inside the deadline, and [`handler`] ties them together
//! and shapes the answer Lambda expects.

pub mod cli;
pub mod config;
pub mod event;
pub mod handler;
pub mod path;
pub mod plan;
pub mod report;
pub mod route;
pub mod send;
