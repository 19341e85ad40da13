//! The command line: `plan EVENT.json`, the dry run, which invalidates nothing (with
//! `DISTRIBUTION_ID=auto`, `main` lists the distributions first); `doctor`, which checks a
//! deployment; and no subcommand, the Lambda function itself.

use std::io::{Read, Write};

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use serde::Serialize;

use crate::config::{Config, SETTINGS, misspelled_settings};
use crate::event::{EventError, Reason, Skipped, decode};
use crate::plan::{Invalidation, Summary, plan};

/// What `--help` shows, and what `main` runs.
#[derive(Debug, Parser)]
#[command(
    name = "s3-cloudfront-invalidator",
    version,
    about = "Invalidates CloudFront paths when objects change in an S3 bucket.",
    long_about = "Invalidates CloudFront paths when objects change in an S3 bucket.\n\n\
        With no command it is the Lambda function (inside Lambda only). Settings come from \
        the environment, as the function reads them (DISTRIBUTION_ID, SOURCE_BUCKET, ...)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

impl Cli {
    /// The process's arguments; `--help` ends with every setting, from [`SETTINGS`].
    pub fn from_args() -> Cli {
        let settings: String = SETTINGS
            .iter()
            .map(|setting| format!("  {:<31} {}\n", setting.name, setting.doc))
            .collect();
        let matches = Cli::command()
            .after_help(format!("Settings (environment variables):\n{settings}"))
            .get_matches();
        Cli::from_arg_matches(&matches).unwrap_or_else(|error| error.exit())
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Prints the invalidations an event would make, and the records the function would
    /// skip or fail; invalidates nothing. Exits 1 when any record would fail.
    Plan {
        /// The event as Lambda delivers it (a file, or - for stdin).
        event: String,
    },
    /// Checks a deployment with your credentials, read-only: the distributions serve the
    /// bucket, the bucket is in the function's region, its notifications reach the
    /// function, the failure queues are empty, and the last invalidations. Exits 1 when a
    /// check fails, printing the command that fixes it.
    Doctor(DoctorArgs),
}

#[derive(Debug, Clone, Default, clap::Args)]
pub struct DoctorArgs {
    /// Read the settings from this deployed function's configuration
    /// (lambda:GetFunctionConfiguration) instead of the environment.
    #[arg(long, value_name = "NAME")]
    pub function: Option<String>,
    /// The bucket, when the settings do not name it (a stack that made its own bucket).
    #[arg(long, value_name = "NAME")]
    pub bucket: Option<String>,
    /// The function's region, instead of AWS_REGION or the profile's.
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
}

/// The one line printed when the binary is started outside Lambda with no command.
pub const NOT_IN_LAMBDA: &str = "not running in Lambda (AWS_LAMBDA_RUNTIME_API is not set): run `s3-cloudfront-invalidator plan EVENT.json` for a dry run, `s3-cloudfront-invalidator doctor` to check a deployment, or --help";

/// Writes `text` to stdout; a reader that went away (`| head`) ends the output quietly.
pub fn print_quietly(text: &str) {
    let mut out = std::io::stdout().lock();
    // Anything but a closed pipe is worth a line; a closed pipe is the reader's choice.
    if let Err(error) = out.write_all(text.as_bytes()).and_then(|()| out.flush())
        && error.kind() != std::io::ErrorKind::BrokenPipe
    {
        eprintln!("error: cannot write the output: {error}");
    }
}

/// The warning lines for settings in `names` that are misspelled, one per name.
pub fn misspelling_warnings<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    misspelled_settings(names)
        .into_iter()
        .map(|(name, meant)| {
            format!("{name} is not a setting, and is ignored: did you mean {meant}?")
        })
        .collect()
}

/// The documented output shape, fields in this order.
#[derive(Serialize)]
struct PlanOutput<'a> {
    invalidations: &'a [Invalidation],
    skipped: Vec<Skipped>,
    /// Records the function would fail (its SQS message handed back, or the invocation
    /// failed), each with its reason.
    failed: &'a [Skipped],
    summary: Summary,
}

/// Why `plan` printed no plan; its message is the one line on stderr.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("cannot read {source_name}: {error}")]
    Read {
        source_name: String,
        error: std::io::Error,
    },
    #[error(transparent)]
    Event(#[from] EventError),
}

/// A plan as `plan` prints it.
#[derive(Debug)]
pub struct Planned {
    /// Pretty JSON.
    pub json: String,
    /// How many records the function would fail.
    pub failed: usize,
}

/// The plan for the event in `source` (a file, or `-` for stdin).
pub fn plan_command(source: &str, config: &Config) -> Result<Planned, PlanError> {
    let read_error = |name: &str| {
        let source_name = name.to_owned();
        move |error| PlanError::Read { source_name, error }
    };
    let raw = match source {
        "-" => {
            let mut raw = Vec::new();
            std::io::stdin()
                .read_to_end(&mut raw)
                .map_err(read_error("stdin"))?;
            raw
        }
        file => std::fs::read(file).map_err(read_error(file))?,
    };
    let decoded = decode(&raw)?;
    let plan = plan(&decoded, config);
    // A completion check needs CloudFront's answer: listed, so every record is accounted for.
    let checks = plan.watches.iter().map(|&i| {
        let watched = &decoded.watches[i];
        Skipped {
            record: watched.record.clone(),
            reason: Reason::CompletionCheck {
                invalidation_id: watched.watch.invalidation_id.clone(),
            },
            message_index: watched.message_index,
        }
    });
    let output = PlanOutput {
        invalidations: &plan.invalidations,
        skipped: plan.skipped.iter().cloned().chain(checks).collect(),
        failed: &plan.rejected,
        summary: plan.summary,
    };
    Ok(Planned {
        json: serde_json::to_string_pretty(&output).expect("plain structs always serialise"),
        failed: plan.rejected.len(),
    })
}
