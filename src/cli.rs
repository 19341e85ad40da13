//! `s3-cloudfront-invalidator plan EVENT.json`: the dry run, which invalidates nothing (with
//! `DISTRIBUTION_ID=auto`, `main` lists the distributions first).

use std::io::Read;

use serde::Serialize;

use crate::config::Config;
use crate::event::{EventError, Reason, Skipped, decode};
use crate::plan::{Invalidation, Summary, plan};

/// The documented output shape, fields in this order.
#[derive(Serialize)]
struct PlanOutput<'a> {
    invalidations: &'a [Invalidation],
    skipped: Vec<Skipped>,
    summary: Summary,
}

/// Why `plan` printed no plan; its message is the one line on stderr.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("usage: s3-cloudfront-invalidator plan EVENT.json (or - for stdin)")]
    Usage,
    #[error("cannot read {source_name}: {error}")]
    Read {
        source_name: String,
        error: std::io::Error,
    },
    #[error(transparent)]
    Event(#[from] EventError),
}

/// The plan for the event in `source` (a file, or `-` for stdin), as pretty JSON.
pub fn plan_command(source: Option<&str>, config: &Config) -> Result<String, PlanError> {
    let read_error = |name: &str| {
        let source_name = name.to_owned();
        move |error| PlanError::Read { source_name, error }
    };
    let raw = match source {
        None => return Err(PlanError::Usage),
        Some("-") => {
            let mut raw = Vec::new();
            std::io::stdin()
                .read_to_end(&mut raw)
                .map_err(read_error("stdin"))?;
            raw
        }
        Some(file) => std::fs::read(file).map_err(read_error(file))?,
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
        skipped: plan
            .skipped
            .iter()
            .chain(&plan.rejected)
            .cloned()
            .chain(checks)
            .collect(),
        summary: plan.summary,
    };
    Ok(serde_json::to_string_pretty(&output).expect("plain structs always serialise"))
}
