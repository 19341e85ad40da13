//! The function's own messages on its queue: invalidations deferred while CloudFront had too
//! many in progress, and completion checks of invalidations it made ("watches"). One format
//! for both: versioned, bounded and validated like any other input, and a bad one is rejected
//! with its reason without blocking the batch.

use std::time::{Duration, SystemTime};

use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

use super::{Change, ChangeKind, Decoded, IdentityHasher, Reason, Routed, Scope, Watched};
use crate::config::{MAX_PATHS_PER_REQUEST, MAX_QUEUE_DELAY_SECONDS, is_distribution_id};
use crate::path::is_valid_cloudfront_path;

/// The format this function writes and reads; a message of another version is rejected.
pub const FORMAT_VERSION: u32 = 1;

/// Deferrals of one batch of paths, after which it is failed as any other (and so, after the
/// queue's receive limit, lands in the failure queue): with the default 60 s growing by 60 s
/// per deferral, about three hours of CloudFront having no room.
pub const MAX_DEFERRALS: u32 = 20;

/// Checks of one invalidation. The overdue bound ends a watch long before this (about a dozen
/// checks even from a first delay of 0 s); a message claiming more is not one of ours.
pub const MAX_CHECKS: u32 = 32;

/// A watch is a few hundred bytes; anything much larger is not one of ours.
pub const MAX_WATCH_BYTES: usize = 2048;

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

/// An invalidation to check on: when CloudFront reports it completed, it is announced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Watch {
    pub distribution_id: String,
    /// The distribution tenant the invalidation was made for, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    pub invalidation_id: String,
    pub caller_reference: String,
    /// Paths the invalidation holds (each billed, a wildcard as one).
    pub billed_paths: usize,
    /// CloudFront's CreateTime.
    pub created_at: Timestamp,
    /// When the function last saw it in progress: it completed after this. `None` when
    /// CloudFront already reported it completed the first time the function saw it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_progress_at: Option<Timestamp>,
    /// Checks made before the one this message asks for.
    pub checks: u32,
    /// How long this message waited in the queue; the next wait is twice as long.
    pub delay_seconds: u64,
}

/// One unit of work as it travels in an SQS body, next to the format version.
#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum Work<'a> {
    Deferred(&'a Deferred),
    Watch(&'a Watch),
}

/// A work message: the version field marks the body as ours.
#[derive(Serialize)]
struct WorkMessage<'a> {
    s3cfi_work: u32,
    #[serde(flatten)]
    work: Work<'a>,
}

fn to_body(work: Work) -> String {
    serde_json::to_string(&WorkMessage {
        s3cfi_work: FORMAT_VERSION,
        work,
    })
    .expect("plain structs always serialise")
}

impl Deferred {
    /// The SQS body for this deferred work.
    pub fn to_body(&self) -> String {
        to_body(Work::Deferred(self))
    }
}

impl Watch {
    /// The SQS body for this watch.
    pub fn to_body(&self) -> String {
        to_body(Work::Watch(self))
    }
}

/// A moment, written as RFC 3339 in UTC to the millisecond, as CloudFront and EventBridge
/// write theirs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(SystemTime);

impl Timestamp {
    /// Whole seconds from `earlier` to this moment; 0 when `earlier` is later (clock skew
    /// between CloudFront and Lambda).
    pub fn seconds_since(self, earlier: Timestamp) -> u64 {
        self.since(earlier).as_secs()
    }

    /// Time from `earlier` to this moment; zero when `earlier` is later.
    pub fn since(self, earlier: Timestamp) -> Duration {
        self.0.duration_since(earlier.0).unwrap_or_default()
    }

    /// The milliseconds since the Unix epoch (0 before it).
    pub fn epoch_millis(self) -> u128 {
        self.0
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis()
    }
}

impl From<SystemTime> for Timestamp {
    /// Truncated to the millisecond, so a timestamp reads back as it was written.
    fn from(time: SystemTime) -> Self {
        let since_epoch = time
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp(SystemTime::UNIX_EPOCH + Duration::from_millis(since_epoch.as_millis() as u64))
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let millis = i64::try_from(self.epoch_millis()).map_err(|_| std::fmt::Error)?;
        let text = DateTime::from_millis(millis)
            .fmt(Format::DateTime)
            .map_err(|_| std::fmt::Error)?;
        f.write_str(&text)
    }
}

impl std::str::FromStr for Timestamp {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let parsed = DateTime::from_str(text, Format::DateTime)
            .map_err(|_| format!("{text:?} is not an RFC 3339 time in UTC"))?;
        SystemTime::try_from(parsed)
            .map(Timestamp::from)
            .map_err(|_| format!("{text:?} is out of range"))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<str>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Longest reference or caller reference of a work message (CloudFront allows 128).
const MAX_REFERENCE_CHARS: usize = 128;

/// The problem, shortened: serde's messages quote what they read, which the sender chose.
fn invalid(problem: String) -> Reason {
    Reason::InvalidWork(crate::path::shorten(&problem, super::MAX_PROBLEM_CHARS).into_owned())
}

/// `value` holds 1 to `max` bytes, each `allowed` (`what` names them in the problem).
fn bounded(
    name: &str,
    value: &str,
    max: usize,
    what: &str,
    allowed: fn(u8) -> bool,
) -> Result<(), Reason> {
    if (1..=max).contains(&value.len()) && value.bytes().all(allowed) {
        Ok(())
    } else {
        Err(invalid(format!(
            "{name} {:?} is not one (1 to {max} {what})",
            crate::path::abbreviate(value)
        )))
    }
}

fn validate_tenant(tenant: &str) -> Result<(), Reason> {
    bounded("tenant id", tenant, 128, "characters", |b| {
        b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
    })
}

/// Why a deferred payload cannot be trusted, if it cannot.
fn validate_deferred(deferred: &Deferred) -> Result<(), Reason> {
    validate_distribution(&deferred.distribution_id)?;
    // The function writes a CallerReference and a part number.
    bounded(
        "reference",
        &deferred.reference,
        MAX_REFERENCE_CHARS,
        "visible ASCII characters",
        |b| b.is_ascii_graphic(),
    )?;
    if let Some(tenant) = &deferred.tenant_id {
        validate_tenant(tenant)?;
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

fn validate_distribution(id: &str) -> Result<(), Reason> {
    if is_distribution_id(id) {
        Ok(())
    } else {
        Err(invalid(format!("distribution id {id:?} is not one")))
    }
}

/// Why a watch cannot be trusted, if it cannot. Every field the check sends to CloudFront or
/// EventBridge is bounded here.
fn validate_watch(watch: &Watch) -> Result<(), Reason> {
    validate_distribution(&watch.distribution_id)?;
    if let Some(tenant) = &watch.tenant_id {
        validate_tenant(tenant)?;
    }
    bounded(
        "invalidation id",
        &watch.invalidation_id,
        64,
        "characters",
        |b| b.is_ascii_uppercase() || b.is_ascii_digit(),
    )?;
    bounded(
        "caller reference",
        &watch.caller_reference,
        MAX_REFERENCE_CHARS,
        "characters",
        |b| b.is_ascii_graphic(),
    )?;
    if watch.billed_paths == 0 || watch.billed_paths > MAX_PATHS_PER_REQUEST {
        return Err(invalid(format!(
            "billed_paths {} is outside 1 to {MAX_PATHS_PER_REQUEST}",
            watch.billed_paths
        )));
    }
    if watch.checks >= MAX_CHECKS {
        return Err(invalid(format!(
            "checks {} is outside 0 to {}",
            watch.checks,
            MAX_CHECKS - 1
        )));
    }
    if watch.delay_seconds > MAX_QUEUE_DELAY_SECONDS {
        return Err(invalid(format!(
            "delay_seconds {} is outside 0 to {}",
            watch.delay_seconds, MAX_QUEUE_DELAY_SECONDS
        )));
    }
    Ok(())
}

/// Reads one work message: `version` and the fields naming the work, each still raw.
pub(super) fn decode_work(
    decoded: &mut Decoded,
    version: u32,
    deferred: Option<&RawValue>,
    watch: Option<&RawValue>,
    scope: &Scope,
) {
    let label = match (deferred, watch) {
        (None, Some(_)) => "watch",
        _ => "deferred work",
    };
    if version != FORMAT_VERSION {
        return decoded.reject(
            scope,
            label,
            invalid(format!(
                "format version {version}; this function reads {FORMAT_VERSION}"
            )),
        );
    }
    match (deferred, watch) {
        (Some(deferred), None) => decode_deferred(decoded, deferred, scope, label),
        (None, Some(watch)) => decode_watch(decoded, watch, scope, label),
        (Some(_), Some(_)) => decoded.reject(
            scope,
            "work",
            invalid("both deferred and watch fields; one message holds one".into()),
        ),
        (None, None) => decoded.reject(scope, "work", invalid("no deferred or watch field".into())),
    }
}

fn decode_deferred(decoded: &mut Decoded, raw: &RawValue, scope: &Scope, label: &str) {
    let parsed = serde_json::from_str::<Deferred>(raw.get())
        .map_err(|e| invalid(e.to_string()))
        .and_then(|deferred| validate_deferred(&deferred).map(|()| deferred));
    match parsed {
        Ok(deferred) => decoded.changes.push(Change {
            bucket: String::new(),
            key: String::new(),
            kind: ChangeKind::Created,
            identity: {
                let mut identity = IdentityHasher::new();
                identity.field("deferred");
                identity.field(&deferred.reference);
                identity.field(&deferred.deferrals.to_string());
                identity.finish()
            },
            record: scope.record(format_args!("{label} {}", deferred.reference)),
            message_index: scope.message_index,
            second_reading: false,
            source: scope.source,
            routed: Some(Box::new(Routed {
                distribution_id: deferred.distribution_id,
                tenant_id: deferred.tenant_id,
                paths: deferred.paths,
                deferrals: deferred.deferrals,
            })),
        }),
        Err(reason) => decoded.reject(scope, label, reason),
    }
}

fn decode_watch(decoded: &mut Decoded, raw: &RawValue, scope: &Scope, label: &str) {
    let size = raw.get().len();
    let parsed = if size > MAX_WATCH_BYTES {
        Err(invalid(format!(
            "watch is {size} bytes; at most {MAX_WATCH_BYTES}"
        )))
    } else {
        serde_json::from_str::<Watch>(raw.get())
            .map_err(|e| invalid(e.to_string()))
            .and_then(|watch| validate_watch(&watch).map(|()| watch))
    };
    match parsed {
        Ok(watch) => decoded.watches.push(Watched {
            record: scope.record(format_args!("{label} {}", watch.invalidation_id)),
            message_index: scope.message_index,
            source: scope.source,
            watch,
        }),
        Err(reason) => decoded.reject(scope, label, reason),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watch() -> Watch {
        Watch {
            distribution_id: "EDFDVBD6EXAMPLE".into(),
            tenant_id: None,
            invalidation_id: "I2J0I21PCUYOIK".into(),
            caller_reference: "s3cfi-8ba4276d88916780f8428079bd17d356".into(),
            billed_paths: 3,
            created_at: "2026-11-30T05:11:10.123Z".parse().unwrap(),
            in_progress_at: Some("2026-11-30T05:11:10.500Z".parse().unwrap()),
            checks: 0,
            delay_seconds: 60,
        }
    }

    #[test]
    fn a_watch_reads_back_as_it_was_written() {
        let body = watch().to_body();
        assert_eq!(
            body,
            r#"{"s3cfi_work":1,"watch":{"distribution_id":"EDFDVBD6EXAMPLE","invalidation_id":"I2J0I21PCUYOIK","caller_reference":"s3cfi-8ba4276d88916780f8428079bd17d356","billed_paths":3,"created_at":"2026-11-30T05:11:10.123Z","in_progress_at":"2026-11-30T05:11:10.5Z","checks":0,"delay_seconds":60}}"#
        );
        let decoded = super::super::decode(body.as_bytes()).unwrap();
        assert!(decoded.changes.is_empty() && decoded.rejected.is_empty());
        assert_eq!(decoded.watches.len(), 1);
        assert_eq!(decoded.watches[0].watch, watch());
        assert_eq!(decoded.watches[0].record, "watch I2J0I21PCUYOIK");
    }

    #[test]
    fn timestamps_are_rfc3339_to_the_millisecond() {
        let time = SystemTime::UNIX_EPOCH + Duration::from_nanos(1_795_557_111_388_999_999);
        let stamp = Timestamp::from(time);
        assert_eq!(stamp.to_string(), "2026-11-24T21:51:51.388Z");
        assert_eq!(stamp.to_string().parse::<Timestamp>(), Ok(stamp));
        assert_eq!(stamp.epoch_millis(), 1_795_557_111_388);
        let later: Timestamp = "2026-11-24T21:53:01.388Z".parse().unwrap();
        assert_eq!(later.seconds_since(stamp), 70);
        assert_eq!(
            stamp.seconds_since(later),
            0,
            "clock skew is no negative time"
        );
        assert!("yesterday".parse::<Timestamp>().is_err());
        assert!("2026-11-26T18:31:51+01:00".parse::<Timestamp>().is_err());
    }
}
