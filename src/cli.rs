//! `s3-cloudfront-invalidator plan EVENT.json`: the offline dry run.

use std::io::Read;

use serde::Serialize;

use crate::config::Config;
use crate::event::{Skipped, decode_bytes};
use crate::plan::{Invalidation, Summary, plan};

/// The documented output shape, fields in this order.
#[derive(Serialize)]
struct PlanOutput<'a> {
    invalidations: &'a [Invalidation],
    skipped: Vec<&'a Skipped>,
    summary: Summary,
}

/// Prints the plan for the event in `source` (a file, or `-` for stdin) as JSON on stdout.
/// On failure returns the one-line message for stderr.
pub fn plan_command(
    source: Option<&str>,
    config: Result<Config, impl ToString>,
) -> Result<String, String> {
    let config = config.map_err(|e| e.to_string())?;
    let raw = match source {
        None => {
            return Err("usage: s3-cloudfront-invalidator plan EVENT.json (or - for stdin)".into());
        }
        Some("-") => {
            let mut raw = Vec::new();
            std::io::stdin()
                .read_to_end(&mut raw)
                .map_err(|e| format!("cannot read stdin: {e}"))?;
            raw
        }
        Some(file) => std::fs::read(file).map_err(|e| format!("cannot read {file}: {e}"))?,
    };
    let decoded = decode_bytes(&raw).map_err(|e| e.to_string())?;
    let plan = plan(&decoded, &config);
    let output = PlanOutput {
        invalidations: &plan.invalidations,
        skipped: plan.skipped.iter().chain(&plan.rejected).collect(),
        summary: plan.summary,
    };
    Ok(serde_json::to_string_pretty(&output).expect("plain structs always serialise"))
}
