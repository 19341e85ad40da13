//! Keeps a CloudFront distribution fresh when objects change in the S3 bucket behind it.
//!
//! A one-way pipeline, one module per step: [`event`] decodes whatever Lambda delivered
//! into changes, [`route`] and [`path`] map each change to CloudFront paths, [`plan`] turns
//! them into requests with idempotent caller references (pure, no I/O), [`send`] calls
//! CreateInvalidation through a small trait with retries inside the deadline, [`outcome`]
//! records what happened, and [`handler`] ties them together and shapes the answer Lambda
//! expects, deferring what CloudFront has no room for through [`queue`], while [`report`]
//! writes the log and metrics lines. [`config`] owns every setting; [`discover`] completes
//! it at start-up with the distributions found from a bucket (`DISTRIBUTION_ID=auto`);
//! [`cli`] is the `plan` dry run.

pub mod cli;
pub mod config;
pub mod discover;
pub mod event;
pub mod handler;
pub mod outcome;
pub mod path;
pub mod plan;
pub mod queue;
pub mod report;
pub mod route;
pub mod send;
