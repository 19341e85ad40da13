//! Keeps a CloudFront distribution fresh when objects change in the S3 bucket behind it.
//!
//! A one-way pipeline, one module per step: [`event`] decodes whatever Lambda delivered
//! into changes (and the function's own work messages), [`route`] and [`path`] map each change
//! to CloudFront paths, [`plan`] turns them into requests with idempotent caller references
//! (pure, no I/O), [`send`] calls CreateInvalidation and GetInvalidation through a small trait
//! with retries inside the deadline, [`publish`] announces completed invalidations on
//! EventBridge, [`watch`] decides when each is checked and when it is overdue (pure),
//! [`outcome`] records what happened, and [`handler`] ties them together and shapes the answer
//! Lambda expects, writing what must wait (deferred paths, completion checks) through
//! [`queue`], while [`report`] writes the log and metrics lines. [`config`] owns every
//! setting; [`discover`] completes it at start-up with the distributions found from a bucket
//! (`DISTRIBUTION_ID=auto`); [`cli`] is the command line and the `plan` dry run, [`doctor`]
//! the deployment check; [`invocation`] hands the handler
//! each payload as the bytes the runtime received.

pub mod cli;
pub mod config;
pub mod discover;
pub mod doctor;
pub mod event;
pub mod handler;
pub mod invocation;
pub mod outcome;
pub mod path;
pub mod plan;
pub mod publish;
pub mod queue;
pub mod report;
pub mod route;
pub mod send;
pub mod watch;
