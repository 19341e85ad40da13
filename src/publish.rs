//! Announces that an invalidation completed (or is overdue) as an EventBridge event: the
//! event's shape, a small trait for the one call, and its AWS SDK implementation.

use std::future::Future;

use aws_config::SdkConfig;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::event::work::{Timestamp, Watch};

/// The `source` of every event this function publishes.
pub const SOURCE: &str = "s3-cloudfront-invalidator";

/// What an event announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// CloudFront reports the invalidation completed: the site is fresh.
    Completed,
    /// Still in progress at the overdue bound; the function stopped watching it.
    Overdue,
}

impl Kind {
    /// The event's `detail-type`.
    pub fn detail_type(self) -> &'static str {
        match self {
            Kind::Completed => "Invalidation Completed",
            Kind::Overdue => "Invalidation Overdue",
        }
    }
}

/// The event's `detail`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Detail {
    /// The same for every copy of this announcement of this invalidation, so a consumer can
    /// drop repeats (EventBridge gives each PutEvents entry an `id` of its own).
    pub event_id: String,
    pub distribution_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    pub invalidation_id: String,
    pub caller_reference: String,
    pub billed_paths: usize,
    /// CloudFront's CreateTime.
    pub created_at: Timestamp,
    /// When the check that decided this announcement was made.
    pub observed_at: Timestamp,
    /// Completed: `observed_at - created_at` in whole seconds. CloudFront does not say when an
    /// invalidation completed, so this is an upper bound; it completed after `in_progress_at`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seconds_to_complete: Option<u64>,
    /// Overdue: how long it has been in progress, in whole seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seconds_in_progress: Option<u64>,
    /// When the function last saw it in progress; absent when CloudFront already reported it
    /// completed when the function first saw it (a re-delivered change found it done).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_progress_at: Option<Timestamp>,
    /// GetInvalidation calls made, this one included.
    pub checks: u32,
}

/// One event to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompletionEvent {
    pub kind: Kind,
    pub detail: Detail,
}

impl CompletionEvent {
    /// The announcement of `kind` for `watch`, observed at `observed_at` by its check number
    /// `checks`.
    pub fn new(kind: Kind, watch: &Watch, observed_at: Timestamp, checks: u32) -> Self {
        let elapsed = observed_at.seconds_since(watch.created_at);
        CompletionEvent {
            kind,
            detail: Detail {
                event_id: event_id(kind, watch),
                distribution_id: watch.distribution_id.clone(),
                tenant_id: watch.tenant_id.clone(),
                invalidation_id: watch.invalidation_id.clone(),
                caller_reference: watch.caller_reference.clone(),
                billed_paths: watch.billed_paths,
                created_at: watch.created_at,
                observed_at,
                seconds_to_complete: (kind == Kind::Completed).then_some(elapsed),
                seconds_in_progress: (kind == Kind::Overdue).then_some(elapsed),
                in_progress_at: watch.in_progress_at,
                checks,
            },
        }
    }

    /// How long the site stayed stale, when it is known within the checks' spacing: the
    /// invalidation was seen in progress before it was seen completed.
    pub fn seconds_to_complete(&self) -> Option<u64> {
        self.detail
            .in_progress_at
            .and(self.detail.seconds_to_complete)
    }
}

/// `s3cfi-event-` and 32 hex digits of SHA-256 over what the event is about: the detail-type,
/// the distribution, the tenant and the invalidation.
fn event_id(kind: Kind, watch: &Watch) -> String {
    let mut hasher = Sha256::new();
    for part in [
        kind.detail_type(),
        &watch.distribution_id,
        watch.tenant_id.as_deref().unwrap_or_default(),
        &watch.invalidation_id,
    ] {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    let hex: String = hasher.finalize()[..16]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("s3cfi-event-{hex}")
}

/// EventBridge did not take the event; the message says why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("could not publish to EventBridge: {0}")]
pub struct PublishError(pub String);

/// The one EventBridge call the function makes.
pub trait Publisher {
    /// Publishes `event`; an error means it was not accepted (and may be tried again).
    fn publish(
        &self,
        event: &CompletionEvent,
    ) -> impl Future<Output = Result<(), PublishError>> + Send;
}

/// The bus `bus` (a name or an ARN), through the AWS SDK with its own retries.
#[derive(Debug, Clone)]
pub struct EventBridge {
    client: aws_sdk_eventbridge::Client,
    bus: String,
}

impl EventBridge {
    /// The bus `bus` (a name or an ARN), with the SDK configuration the function loaded.
    pub fn new(sdk_config: &SdkConfig, bus: &str) -> Self {
        EventBridge {
            client: aws_sdk_eventbridge::Client::new(sdk_config),
            bus: bus.to_owned(),
        }
    }
}

impl Publisher for EventBridge {
    async fn publish(&self, event: &CompletionEvent) -> Result<(), PublishError> {
        use aws_sdk_eventbridge::error::ProvideErrorMetadata;
        let detail = serde_json::to_string(&event.detail).expect("plain structs always serialise");
        let millis = i64::try_from(event.detail.observed_at.epoch_millis()).unwrap_or_default();
        let entry = PutEventsRequestEntry::builder()
            .source(SOURCE)
            .detail_type(event.kind.detail_type())
            .detail(detail)
            .event_bus_name(&self.bus)
            .time(aws_sdk_eventbridge::primitives::DateTime::from_millis(
                millis,
            ))
            .build();
        let output = self
            .client
            .put_events()
            .entries(entry)
            .send()
            .await
            .map_err(|e| {
                PublishError(match (e.code(), e.message()) {
                    (Some(code), message) => format!("{code}: {}", message.unwrap_or_default()),
                    (None, _) => crate::send::one_line(&e),
                })
            })?;
        // PutEvents answers 200 even when it refuses an entry; the entry says why.
        if output.failed_entry_count() == 0 {
            return Ok(());
        }
        let refused = output.entries().first();
        Err(PublishError(format!(
            "{}: {}",
            refused
                .and_then(|e| e.error_code())
                .unwrap_or("entry refused"),
            refused.and_then(|e| e.error_message()).unwrap_or_default()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watch() -> Watch {
        serde_json::from_value(serde_json::json!({
            "distribution_id": "EDFDVBD6EXAMPLE", "invalidation_id": "I2J0I21PCUYOIK",
            "caller_reference": "s3cfi-8ba4276d88916780f8428079bd17d356", "billed_paths": 3,
            "created_at": "2026-11-30T05:11:10.123Z", "in_progress_at": "2026-11-30T05:11:10.5Z",
            "checks": 0, "delay_seconds": 60
        }))
        .unwrap()
    }

    #[test]
    fn the_detail_carries_the_documented_fields() {
        let observed: Timestamp = "2026-11-30T05:12:13.000Z".parse().unwrap();
        let event = CompletionEvent::new(Kind::Completed, &watch(), observed, 1);
        let detail = serde_json::to_value(&event.detail).unwrap();
        assert_eq!(
            detail,
            serde_json::json!({
                "event_id": event.detail.event_id,
                "distribution_id": "EDFDVBD6EXAMPLE",
                "invalidation_id": "I2J0I21PCUYOIK",
                "caller_reference": "s3cfi-8ba4276d88916780f8428079bd17d356",
                "billed_paths": 3,
                "created_at": "2026-11-30T05:11:10.123Z",
                "observed_at": "2026-11-30T05:12:13Z",
                "seconds_to_complete": 62,
                "in_progress_at": "2026-11-30T05:11:10.5Z",
                "checks": 1
            })
        );
        assert_eq!(event.seconds_to_complete(), Some(62));
    }

    #[test]
    fn event_ids_are_stable_per_invalidation_and_kind() {
        let (early, late) = (
            "2026-11-30T05:12:00Z".parse().unwrap(),
            "2026-11-30T05:20:00Z".parse().unwrap(),
        );
        let first = CompletionEvent::new(Kind::Completed, &watch(), early, 1);
        let again = CompletionEvent::new(Kind::Completed, &watch(), late, 3);
        assert_eq!(first.detail.event_id, again.detail.event_id);
        assert!(first.detail.event_id.starts_with("s3cfi-event-"));
        assert_eq!(first.detail.event_id.len(), "s3cfi-event-".len() + 32);
        let overdue = CompletionEvent::new(Kind::Overdue, &watch(), late, 3);
        assert_ne!(first.detail.event_id, overdue.detail.event_id);
        let other = Watch {
            invalidation_id: "I3OTHER".into(),
            ..watch()
        };
        let other = CompletionEvent::new(Kind::Completed, &other, early, 1);
        assert_ne!(first.detail.event_id, other.detail.event_id);
        assert_eq!(overdue.detail.seconds_in_progress, Some(529));
        assert_eq!(overdue.detail.seconds_to_complete, None);
        assert_eq!(overdue.seconds_to_complete(), None);
    }

    #[test]
    fn an_invalidation_found_completed_has_no_known_time_to_complete() {
        let found_done = Watch {
            in_progress_at: None,
            ..watch()
        };
        let event = CompletionEvent::new(
            Kind::Completed,
            &found_done,
            "2026-11-30T09:00:00Z".parse().unwrap(),
            1,
        );
        assert_eq!(event.detail.seconds_to_complete, Some(13_729));
        assert_eq!(event.seconds_to_complete(), None, "not a measurement");
    }
}
