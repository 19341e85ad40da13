//! The function's own messages on its queue: invalidations deferred while CloudFront had too
//! many in progress. They are input like any other: versioned, bounded and validated, and a
//! bad one is rejected with its reason without blocking the batch.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::{Change, ChangeKind, Decoded, Reason, Routed, Scope};
use crate::config::{MAX_PATHS_PER_REQUEST, is_distribution_id};
use crate::path::is_valid_cloudfront_path;

/// The format this function writes and reads; a message of another version is rejected.
pub const FORMAT_VERSION: u32 = 1;

/// Deferrals of one batch of paths, after which it is failed as any other (and so, after the
/// queue's receive limit, lands in the failure queue): with the default 60 s growing by 60 s
/// per deferral, about three hours of CloudFront having no room.
pub const MAX_DEFERRALS: u32 = 20;

/// Invalidation paths CloudFront refused for now, to send later with whatever is new then.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deferred {
    pub distribution_id: String,
    /// The tenant of a multi-tenant distribution, when the paths are for one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// The CallerReference of the request these paths were planned in: with the paths, what
    /// identifies this deferred work.
    pub reference: String,
    pub paths: Vec<String>,
    /// How many times these paths have been deferred, this time included.
    pub deferrals: u32,
}

/// A work message as it travels in an SQS body.
#[derive(Serialize)]
pub struct WorkMessage<'a> {
    /// The format version; its presence marks the body as ours.
    pub s3cfi_work: u32,
    pub deferred: &'a Deferred,
}

impl Deferred {
    /// The SQS body for this deferred work.
    pub fn to_body(&self) -> String {
        serde_json::to_string(&WorkMessage {
            s3cfi_work: FORMAT_VERSION,
            deferred: self,
        })
        .expect("plain structs always serialise")
    }
}

fn invalid(problem: String) -> Reason {
    Reason::InvalidWork(problem)
}

/// Why a deferred payload cannot be trusted, if it cannot.
fn validate(deferred: &Deferred) -> Result<(), Reason> {
    if !is_distribution_id(&deferred.distribution_id) {
        return Err(invalid(format!(
            "distribution id {:?} is not one",
            deferred.distribution_id
        )));
    }
    if deferred.paths.is_empty() || deferred.paths.len() > MAX_PATHS_PER_REQUEST {
        return Err(invalid(format!(
            "{} paths; 1 to {MAX_PATHS_PER_REQUEST} expected",
            deferred.paths.len()
        )));
    }
    if let Some(bad) = deferred.paths.iter().find(|p| !is_valid_cloudfront_path(p)) {
        return Err(invalid(format!(
            "path {:?} is not a valid CloudFront path",
            crate::path::abbreviate(bad)
        )));
    }
    if deferred.deferrals == 0 || deferred.deferrals > MAX_DEFERRALS {
        return Err(invalid(format!(
            "deferrals {} is outside 1 to {MAX_DEFERRALS}",
            deferred.deferrals
        )));
    }
    Ok(())
}

pub(super) fn decode_work(
    decoded: &mut Decoded,
    version: u32,
    deferred: Option<&RawValue>,
    scope: &Scope,
) {
    let label = "deferred work";
    if version != FORMAT_VERSION {
        return decoded.reject(
            scope,
            label,
            invalid(format!(
                "format version {version}; this function reads {FORMAT_VERSION}"
            )),
        );
    }
    let parsed = match deferred.map(|raw| serde_json::from_str::<Deferred>(raw.get())) {
        Some(Ok(deferred)) => validate(&deferred).map(|()| deferred),
        Some(Err(e)) => Err(invalid(e.to_string())),
        None => Err(invalid("no deferred field".into())),
    };
    match parsed {
        Ok(deferred) => decoded.changes.push(Change {
            bucket: String::new(),
            key: String::new(),
            kind: ChangeKind::Created,
            identity: format!("deferred {} {}", deferred.reference, deferred.deferrals),
            record: scope.record(&format!("{label} {}", deferred.reference)),
            message_index: scope.message_index,
            second_reading: false,
            routed: Some(Routed {
                distribution_id: deferred.distribution_id,
                tenant_id: deferred.tenant_id,
                paths: deferred.paths,
                deferrals: deferred.deferrals,
            }),
        }),
        Err(reason) => decoded.reject(scope, label, reason),
    }
}
