//! Decodes every shape an S3 change arrives in into a flat list of changes.
//!
//! Shapes: a direct S3 notification, an SQS batch of S3 notifications (also wrapped in an
//! SNS envelope, or EventBridge events), an SNS notification, an EventBridge `aws.s3`
//! event, and the `s3:TestEvent`. A bad record is reported with its label and reason;
//! it never hides the good records next to it.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::sns::SnsRecord;
use aws_lambda_events::event::sqs::SqsMessage;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::path::{KeyError, abbreviate, decode_key};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ChangeKind {
    Created,
    Removed,
}

/// One object that changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub bucket: String,
    /// The decoded key, exactly as the object is named in S3.
    pub key: String,
    pub kind: ChangeKind,
    /// What tells this S3 change apart from every other: built from the change itself
    /// (sequencer, request id, version, eTag, time), so a duplicate S3 sends through another
    /// envelope has the same identity; envelope ids only when the record carries none.
    pub identity: String,
    /// Where the change sits in the event, for messages to the operator.
    pub record: String,
    /// Index into `Decoded::messages` for SQS input.
    pub message: Option<usize>,
    /// A second reading of a key whose encoding AWS does not document (EventBridge): sent
    /// when it routes and encodes, but never a reason to skip or fail the record.
    pub second_reading: bool,
}

/// A record left out, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    pub record: String,
    pub reason: String,
    #[serde(skip)]
    pub message: Option<usize>,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Decoded {
    pub changes: Vec<Change>,
    /// Records that are fine but change nothing (test events, other event names).
    pub ignored: Vec<Skipped>,
    /// Records that cannot be read: the input is wrong, and the operator should know.
    pub rejected: Vec<Skipped>,
    /// Message ids of an SQS batch, in delivery order; `None` for other shapes.
    pub sqs_messages: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("event is not JSON: {0}")]
    NotJson(String),
    #[error(
        "event is not an S3 change: expected Records[] of S3, SQS or SNS records, an EventBridge event from aws.s3, or s3:TestEvent; got {0}"
    )]
    Unrecognised(String),
}

// Records are deserialised from borrowed values, never cloned: a 10,000-record event
// would otherwise be held twice.

/// Nesting allowed between envelopes (SQS around SNS around S3 is two).
const MAX_DEPTH: usize = 3;

/// Parses raw bytes, as the `plan` command reads them.
pub fn decode_bytes(raw: &[u8]) -> Result<Decoded, EventError> {
    let value: Value =
        serde_json::from_slice(raw).map_err(|e| EventError::NotJson(e.to_string()))?;
    decode(&value)
}

pub fn decode(event: &Value) -> Result<Decoded, EventError> {
    let mut decoded = Decoded::default();
    if let Some(records) = event.get("Records").and_then(Value::as_array)
        && records.iter().any(is_sqs_record)
    {
        decoded.sqs_messages = Some(Vec::with_capacity(records.len()));
        for (i, record) in records.iter().enumerate() {
            decoded.decode_sqs_message(i, record);
        }
        return Ok(decoded);
    }
    let scope = Scope {
        label: String::new(),
        identity: String::new(),
        message: None,
        depth: 0,
    };
    if decoded.decode_notification(event, &scope) {
        Ok(decoded)
    } else {
        Err(EventError::Unrecognised(describe(event)))
    }
}

fn is_sqs_record(record: &Value) -> bool {
    record.get("eventSource").and_then(Value::as_str) == Some("aws:sqs")
}

/// A short description of an unrecognised event, without echoing its content.
fn describe(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let keys: Vec<&str> = map.keys().take(6).map(String::as_str).collect();
            format!("an object with keys {keys:?}")
        }
        Value::Array(_) => "an array".into(),
        Value::String(_) => "a string".into(),
        Value::Number(_) => "a number".into(),
        Value::Bool(_) => "a boolean".into(),
        Value::Null => "null".into(),
    }
}

/// Where in the event the decoder is, carried down through envelopes.
struct Scope {
    label: String,
    identity: String,
    message: Option<usize>,
    depth: usize,
}

impl Scope {
    /// A record at `label` within this scope, left out for `reason`.
    fn skipped(&self, label: &str, reason: String) -> Skipped {
        Skipped {
            record: join(&self.label, label).trim().to_owned(),
            reason,
            message: self.message,
        }
    }

    fn nested(&self, label: &str, identity: &str) -> Scope {
        Scope {
            label: join(&self.label, label),
            identity: join(&self.identity, identity),
            message: self.message,
            depth: self.depth + 1,
        }
    }
}

fn join(outer: &str, inner: &str) -> String {
    if outer.is_empty() {
        inner.to_owned()
    } else {
        format!("{outer} {inner}")
    }
}

/// Envelope SNS puts around a message it delivers to SQS (raw delivery off).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SnsEnvelope {
    #[serde(rename = "Type")]
    kind: String,
    message_id: String,
    message: String,
}

/// An S3 notification record. Only event name, bucket and key are required: other emitters
/// (moto, S3-compatible stores, hand-written tests) leave out the rest, and
/// `aws_lambda_events`' record type would refuse such records.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct S3Record {
    event_name: Option<String>,
    event_time: Option<String>,
    response_elements: Option<ResponseElements>,
    s3: S3Entity,
}

#[derive(Deserialize)]
struct ResponseElements {
    #[serde(rename = "x-amz-request-id")]
    request_id: Option<String>,
}

#[derive(Deserialize)]
struct S3Entity {
    bucket: Option<OptionalName>,
    object: Option<S3Object>,
}

#[derive(Deserialize)]
struct OptionalName {
    name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct S3Object {
    key: Option<String>,
    sequencer: Option<String>,
    version_id: Option<String>,
    e_tag: Option<String>,
}

/// The `detail` of an EventBridge event from S3.
#[derive(Deserialize)]
struct S3EventBridgeDetail {
    bucket: NamedBucket,
    object: EventBridgeObject,
    #[serde(rename = "request-id")]
    request_id: Option<String>,
}

#[derive(Deserialize)]
struct NamedBucket {
    name: String,
}

#[derive(Deserialize)]
struct EventBridgeObject {
    key: String,
    sequencer: Option<String>,
    #[serde(rename = "version-id")]
    version_id: Option<String>,
    etag: Option<String>,
}

/// The identity of one S3 change: channel, event, bucket and key as sent, then what tells
/// two changes of one key apart. Fields are length-prefixed so no two field lists collide.
/// Only when the record carries none of the distinguishing fields does the envelope's
/// identity (SQS message id, SNS message id, EventBridge id) stand in for them.
fn change_identity(
    scope: &Scope,
    fixed: [&str; 4],
    distinguishing: [Option<&str>; 5],
    fallback: &str,
) -> String {
    let mut identity = String::new();
    let mut push = |field: &str| {
        identity.push_str(&field.len().to_string());
        identity.push(':');
        identity.push_str(field);
        identity.push(' ');
    };
    fixed.into_iter().for_each(&mut push);
    if distinguishing.iter().all(Option::is_none) {
        push(&scope.identity);
        push(fallback);
    } else {
        distinguishing
            .into_iter()
            .for_each(|field| push(field.unwrap_or_default()));
    }
    identity.pop();
    identity
}

impl Decoded {
    fn reject(&mut self, scope: &Scope, label: &str, reason: impl Into<String>) {
        self.rejected.push(scope.skipped(label, reason.into()));
    }

    fn ignore(&mut self, scope: &Scope, label: &str, reason: impl Into<String>) {
        self.ignored.push(scope.skipped(label, reason.into()));
    }

    fn decode_sqs_message(&mut self, index: usize, record: &Value) {
        let messages = self.sqs_messages.get_or_insert_with(Vec::new);
        let message_index = messages.len();
        let message = match SqsMessage::deserialize(record) {
            Ok(message) => message,
            Err(e) => {
                // Without a message id SQS cannot be told which message failed.
                messages.push(format!("Records[{index}]"));
                let scope = Scope {
                    label: String::new(),
                    identity: String::new(),
                    message: Some(message_index),
                    depth: 1,
                };
                self.reject(
                    &scope,
                    &format!("Records[{index}]"),
                    format!("not an SQS message: {e}"),
                );
                return;
            }
        };
        let id = message
            .message_id
            .unwrap_or_else(|| format!("Records[{index}]"));
        messages.push(id.clone());
        let scope = Scope {
            label: format!("message {id}"),
            identity: format!("sqs:{id}"),
            message: Some(message_index),
            depth: 1,
        };
        let Some(body) = message.body else {
            self.reject(&scope, "", "SQS message has no body");
            return;
        };
        match serde_json::from_str::<Value>(&body) {
            Ok(inner) => {
                if !self.decode_notification(&inner, &scope) {
                    self.reject(
                        &scope,
                        "",
                        format!(
                            "body is not an S3, SNS or EventBridge S3 notification: {}",
                            describe(&inner)
                        ),
                    );
                }
            }
            Err(e) => self.reject(&scope, "", format!("body is not JSON: {e}")),
        }
    }

    /// Decodes one notification of a known shape; false when the shape is not one of ours.
    fn decode_notification(&mut self, value: &Value, scope: &Scope) -> bool {
        if scope.depth > MAX_DEPTH {
            return false;
        }
        if value.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
            self.ignore(
                scope,
                "s3:TestEvent",
                "test event sent when a notification is configured: nothing to invalidate",
            );
            return true;
        }
        if let Some(records) = value.get("Records").and_then(Value::as_array) {
            for (i, record) in records.iter().enumerate() {
                let label = format!("Records[{i}]");
                if record.get("EventSource").and_then(Value::as_str) == Some("aws:sns") {
                    self.decode_sns_record(record, scope, &label);
                } else if record.get("s3").is_some() {
                    self.decode_s3_record(record, scope, &label);
                } else {
                    self.reject(scope, &label, "not an S3 or SNS record (no s3 field)");
                }
            }
            return true;
        }
        if value.get("Type").and_then(Value::as_str) == Some("Notification") {
            return self.decode_sns_envelope(value, scope);
        }
        if value.get("source").and_then(Value::as_str) == Some("aws.s3")
            && value.get("detail-type").is_some()
        {
            self.decode_eventbridge(value, scope);
            return true;
        }
        false
    }

    fn decode_sns_record(&mut self, record: &Value, scope: &Scope, label: &str) {
        match SnsRecord::deserialize(record) {
            Ok(sns) => {
                let inner_scope = scope.nested(
                    &format!("{label} sns {}", sns.sns.message_id),
                    &format!("sns:{}", sns.sns.message_id),
                );
                self.decode_embedded(&sns.sns.message, &inner_scope);
            }
            Err(e) => self.reject(scope, label, format!("not an SNS record: {e}")),
        }
    }

    fn decode_sns_envelope(&mut self, value: &Value, scope: &Scope) -> bool {
        match SnsEnvelope::deserialize(value) {
            Ok(envelope) if envelope.kind == "Notification" => {
                let inner_scope = scope.nested(
                    &format!("sns {}", envelope.message_id),
                    &format!("sns:{}", envelope.message_id),
                );
                self.decode_embedded(&envelope.message, &inner_scope);
                true
            }
            _ => false,
        }
    }

    /// A notification carried as a JSON string inside an envelope.
    fn decode_embedded(&mut self, message: &str, scope: &Scope) {
        match serde_json::from_str::<Value>(message) {
            Ok(inner) => {
                if !self.decode_notification(&inner, scope) {
                    self.reject(
                        scope,
                        "",
                        format!("message is not an S3 notification: {}", describe(&inner)),
                    );
                }
            }
            Err(e) => self.reject(scope, "", format!("message is not JSON: {e}")),
        }
    }

    fn decode_s3_record(&mut self, value: &Value, scope: &Scope, label: &str) {
        let record = match S3Record::deserialize(value) {
            Ok(record) => record,
            Err(e) => {
                self.reject(scope, label, format!("S3 record is malformed: {e}"));
                return;
            }
        };
        let object = record.s3.object;
        let (Some(bucket), Some(raw_key)) = (
            record.s3.bucket.and_then(|b| b.name),
            object.as_ref().and_then(|o| o.key.clone()),
        ) else {
            self.reject(
                scope,
                label,
                "S3 record has no s3.bucket.name or s3.object.key",
            );
            return;
        };
        let label = format!("{label} s3://{bucket}/{}", abbreviate(&raw_key));
        let Some(event_name) = record.event_name else {
            self.reject(scope, &label, "S3 record has no eventName");
            return;
        };
        let Some(kind) = change_kind(&event_name) else {
            self.ignore(
                scope,
                &label,
                format!("event {event_name} does not change content"),
            );
            return;
        };
        let object = object.expect("the key came from it");
        let identity = change_identity(
            scope,
            ["s3", &event_name, &bucket, &raw_key],
            [
                object.sequencer.as_deref(),
                record
                    .response_elements
                    .as_ref()
                    .and_then(|r| r.request_id.as_deref()),
                object.version_id.as_deref(),
                object.e_tag.as_deref(),
                record.event_time.as_deref(),
            ],
            label.as_str(),
        );
        match decode_key(&raw_key) {
            Ok(key) => self.changes.push(Change {
                bucket,
                key,
                kind,
                identity,
                record: join(&scope.label, &label),
                message: scope.message,
                second_reading: false,
            }),
            Err(e) => self.reject_key(scope, &label, e),
        }
    }

    fn decode_eventbridge(&mut self, value: &Value, scope: &Scope) {
        let event = match EventBridgeEvent::<Value>::deserialize(value) {
            Ok(event) => event,
            Err(e) => {
                self.reject(
                    scope,
                    "eventbridge",
                    format!("EventBridge event is malformed: {e}"),
                );
                return;
            }
        };
        let id = event.id.unwrap_or_default();
        let label = format!("eventbridge {id}");
        let kind = match event.detail_type.as_str() {
            "Object Created" => ChangeKind::Created,
            "Object Deleted" => ChangeKind::Removed,
            other => {
                self.ignore(
                    scope,
                    &label,
                    format!("detail-type {other:?} does not change content"),
                );
                return;
            }
        };
        let detail: S3EventBridgeDetail = match serde_json::from_value(event.detail) {
            Ok(detail) => detail,
            Err(e) => {
                self.reject(
                    scope,
                    &label,
                    format!("EventBridge detail is malformed: {e}"),
                );
                return;
            }
        };
        let bucket = detail.bucket.name;
        let key = detail.object.key;
        let label = format!("{label} s3://{bucket}/{}", abbreviate(&key));
        let identity = change_identity(
            scope,
            ["eventbridge", &event.detail_type, &bucket, &key],
            [
                detail.object.sequencer.as_deref(),
                detail.request_id.as_deref(),
                detail.object.version_id.as_deref(),
                detail.object.etag.as_deref(),
                event.time.map(|t| t.to_rfc3339()).as_deref(),
            ],
            &id,
        );
        if key.is_empty() {
            self.reject_key(scope, &label, KeyError::Empty);
            return;
        }
        // EventBridge keys are raw (AWS's own samples and moto's S3 send them unencoded);
        // AWS documents nothing, so the form-decoded reading is covered too when it differs.
        let form_decoded = decode_key(&key).ok().filter(|decoded| *decoded != key);
        let change = Change {
            bucket,
            key,
            kind,
            identity,
            record: join(&scope.label, &label),
            message: scope.message,
            second_reading: false,
        };
        if let Some(decoded) = form_decoded {
            let second = Change {
                key: decoded,
                second_reading: true,
                ..change.clone()
            };
            self.changes.extend([change, second]);
        } else {
            self.changes.push(change);
        }
    }

    fn reject_key(&mut self, scope: &Scope, label: &str, error: KeyError) {
        match error {
            KeyError::Empty => self.reject(scope, label, "object key is empty"),
            e => self.reject(scope, label, e.to_string()),
        }
    }
}

/// `ObjectCreated:*`, `ObjectRemoved:*` and `LifecycleExpiration:*`, with or without `s3:`.
fn change_kind(event_name: &str) -> Option<ChangeKind> {
    let name = event_name.strip_prefix("s3:").unwrap_or(event_name);
    if name.starts_with("ObjectCreated:") {
        Some(ChangeKind::Created)
    } else if name.starts_with("ObjectRemoved:") || name.starts_with("LifecycleExpiration:") {
        Some(ChangeKind::Removed)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(name: &str) -> Decoded {
        let path = format!("{}/events/{name}", env!("CARGO_MANIFEST_DIR"));
        decode_bytes(&std::fs::read(&path).unwrap()).unwrap()
    }

    fn keys(decoded: &Decoded) -> Vec<(&str, ChangeKind)> {
        decoded
            .changes
            .iter()
            .map(|c| (c.key.as_str(), c.kind))
            .collect()
    }

    #[test]
    fn direct_s3_events_of_every_change_kind() {
        use ChangeKind::*;
        let cases = [
            ("s3-put.json", "index.html", Created),
            ("s3-copy.json", "assets/app.css", Created),
            ("s3-multipart.json", "videos/intro.mp4", Created),
            ("s3-delete.json", "old/page.html", Removed),
            ("s3-delete-marker.json", "old/versioned.html", Removed),
            ("s3-lifecycle-expiration.json", "tmp/preview.html", Removed),
        ];
        for (file, key, kind) in cases {
            let decoded = sample(file);
            assert_eq!(keys(&decoded), [(key, kind)], "{file}");
            assert_eq!(decoded.changes[0].bucket, "example-site");
            assert!(decoded.sqs_messages.is_none());
            assert!(decoded.rejected.is_empty() && decoded.ignored.is_empty());
        }
    }

    #[test]
    fn several_records_and_non_changes() {
        let decoded = sample("s3-several-records.json");
        assert_eq!(decoded.changes.len(), 4);
        assert_eq!(decoded.ignored.len(), 1);
        assert!(
            decoded.ignored[0]
                .reason
                .contains("ObjectRestore:Completed does not change content")
        );
        assert!(
            decoded.ignored[0]
                .record
                .starts_with("Records[4] s3://example-site/photos/raw.jpg")
        );
        let identities: std::collections::HashSet<_> =
            decoded.changes.iter().map(|c| &c.identity).collect();
        assert_eq!(identities.len(), 4, "each record has its own identity");
    }

    #[test]
    fn special_keys_are_decoded() {
        let decoded = sample("s3-special-keys.json");
        let keys: Vec<&str> = decoded.changes.iter().map(|c| c.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "docs/getting started.html",
                "downloads/c++ guide.pdf",
                "blog/café/menü.html",
                "people/~alice/profile.html",
                "reports/100% done?.html"
            ]
        );
    }

    #[test]
    fn sqs_batches_keep_message_ids() {
        let decoded = sample("sqs-batch.json");
        let messages = decoded.sqs_messages.as_ref().unwrap();
        assert_eq!(messages.len(), 3);
        assert_eq!(decoded.changes.len(), 3);
        for (i, change) in decoded.changes.iter().enumerate() {
            assert_eq!(change.message, Some(i));
        }
    }

    #[test]
    fn sqs_around_sns_and_plain_sns() {
        let decoded = sample("sqs-sns.json");
        assert_eq!(
            keys(&decoded),
            [
                ("news/today.html", ChangeKind::Created),
                ("news/yesterday.html", ChangeKind::Removed)
            ]
        );
        assert!(decoded.changes[0].record.contains(" sns "));
        let decoded = sample("sns.json");
        assert_eq!(keys(&decoded), [("feeds/rss.xml", ChangeKind::Created)]);
    }

    fn sqs_of(bodies: &[Value]) -> Value {
        let records: Vec<Value> = bodies
            .iter()
            .enumerate()
            .map(|(i, body)| serde_json::json!({"messageId": format!("m-{i}"), "body": body.to_string(), "eventSource": "aws:sqs"}))
            .collect();
        serde_json::json!({ "Records": records })
    }

    #[test]
    fn a_duplicate_s3_sends_through_other_envelopes_has_one_identity() {
        let notification = serde_json::json!({"Records": [s3_record("a.html", 7)]});
        let through_sns = serde_json::json!({"Type": "Notification", "MessageId": "sns-2", "Message": notification.to_string()});
        let decoded = decode(&sqs_of(&[notification, through_sns])).unwrap();
        assert_eq!(decoded.changes.len(), 2);
        assert_eq!(decoded.changes[0].identity, decoded.changes[1].identity);
        assert_ne!(decoded.changes[0].message, decoded.changes[1].message);
    }

    #[test]
    fn uploads_of_one_key_are_told_apart_by_whatever_the_record_carries() {
        let bare = serde_json::json!({"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "b"}, "object": {"key": "a.html"}}});
        let with = |field: &str, value: &str| {
            let mut record = bare.clone();
            match field {
                "eventTime" => record["eventTime"] = value.into(),
                "x-amz-request-id" => {
                    record["responseElements"] = serde_json::json!({field: value})
                }
                _ => record["s3"]["object"][field] = value.into(),
            }
            record
        };
        let variants = [
            with("sequencer", "01"),
            with("sequencer", "02"),
            with("x-amz-request-id", "R1"),
            with("versionId", "v1"),
            with("eTag", "e1"),
            with("eventTime", "2026-11-24T10:00:00.000Z"),
        ];
        let decoded = decode(&serde_json::json!({ "Records": variants })).unwrap();
        let identities: std::collections::HashSet<_> =
            decoded.changes.iter().map(|c| &c.identity).collect();
        assert_eq!(identities.len(), variants.len());
        // With none of them, the envelope tells deliveries apart: each message is its own change.
        let bare_notification = serde_json::json!({"Records": [bare]});
        let decoded = decode(&sqs_of(&[bare_notification.clone(), bare_notification])).unwrap();
        assert_ne!(decoded.changes[0].identity, decoded.changes[1].identity);
    }

    #[test]
    fn records_need_only_event_name_bucket_and_key() {
        let minimal = serde_json::json!({"Records": [
            {"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "b"}, "object": {"key": "a+b.html"}}},
            {"eventName": "ObjectRemoved:Delete", "eventSource": "aws:s3", "s3": {"bucket": {"name": "b", "arn": "arn:aws:s3:::b"}, "object": {"key": "c.html", "size": null}}},
        ]});
        let decoded = decode(&minimal).unwrap();
        assert_eq!(
            keys(&decoded),
            [
                ("a b.html", ChangeKind::Created),
                ("c.html", ChangeKind::Removed)
            ]
        );
        assert!(decoded.rejected.is_empty());
    }

    #[test]
    fn sqs_around_eventbridge_for_existing_buckets() {
        let path = format!(
            "{}/events/eventbridge-created.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let body: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        let decoded = decode(&sqs_of(&[body])).unwrap();
        assert_eq!(
            keys(&decoded),
            [("assets/main script.js", ChangeKind::Created)]
        );
        assert_eq!(decoded.sqs_messages, Some(vec!["m-0".to_string()]));
    }

    #[test]
    fn eventbridge_created_and_deleted() {
        let decoded = sample("eventbridge-created.json");
        assert_eq!(
            keys(&decoded),
            [("assets/main script.js", ChangeKind::Created)]
        );
        let decoded = sample("eventbridge-deleted.json");
        assert_eq!(keys(&decoded), [("assets/legacy.js", ChangeKind::Removed)]);
    }

    fn eventbridge_with_key(key: &str) -> Value {
        let mut event = serde_json::from_slice::<Value>(
            &std::fs::read(format!(
                "{}/events/eventbridge-created.json",
                env!("CARGO_MANIFEST_DIR")
            ))
            .unwrap(),
        )
        .unwrap();
        event["detail"]["object"]["key"] = key.into();
        event
    }

    #[test]
    fn eventbridge_keys_are_raw_and_a_clean_form_decoding_is_covered_too() {
        let decoded = decode(&eventbridge_with_key("downloads/c++ guide.pdf")).unwrap();
        assert_eq!(
            keys(&decoded),
            [
                ("downloads/c++ guide.pdf", ChangeKind::Created),
                ("downloads/c   guide.pdf", ChangeKind::Created)
            ]
        );
        assert!(!decoded.changes[0].second_reading && decoded.changes[1].second_reading);
        assert_eq!(decoded.changes[0].identity, decoded.changes[1].identity);
        // Not form-decodable: taken as it is, never rejected.
        let decoded = decode(&eventbridge_with_key("reports/100%.html")).unwrap();
        assert_eq!(keys(&decoded), [("reports/100%.html", ChangeKind::Created)]);
        assert!(decoded.rejected.is_empty());
        let decoded = decode(&eventbridge_with_key("plain/a.html")).unwrap();
        assert_eq!(decoded.changes.len(), 1);
    }

    #[test]
    fn test_events_are_acknowledged() {
        for file in ["s3-test-event.json", "sqs-test-event.json"] {
            let decoded = sample(file);
            assert!(
                decoded.changes.is_empty() && decoded.rejected.is_empty(),
                "{file}"
            );
            assert_eq!(decoded.ignored.len(), 1, "{file}");
        }
    }

    #[test]
    fn bad_records_are_rejected_without_losing_good_ones() {
        let decoded = sample("bad-undecodable-key.json");
        assert_eq!(keys(&decoded), [("good.html", ChangeKind::Created)]);
        assert_eq!(decoded.rejected.len(), 1);
        assert!(
            decoded.rejected[0]
                .reason
                .contains("malformed percent-escape at byte 3")
        );

        let decoded = sample("bad-sqs-partial.json");
        assert_eq!(decoded.changes.len(), 2);
        assert_eq!(decoded.rejected[0].message, Some(1));
        assert!(decoded.rejected[0].reason.starts_with("body is not JSON"));

        let decoded = sample("bad-missing-key.json");
        assert!(
            decoded.rejected[0]
                .reason
                .contains("no s3.bucket.name or s3.object.key")
        );
        let decoded = sample("bad-empty-key.json");
        assert_eq!(decoded.rejected[0].reason, "object key is empty");
    }

    #[test]
    fn unrecognised_and_non_json_events_are_errors() {
        let path = format!(
            "{}/events/bad-other-service.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let err = decode_bytes(&std::fs::read(path).unwrap()).unwrap_err();
        assert!(matches!(err, EventError::Unrecognised(_)));
        assert!(matches!(
            decode_bytes(b"not json"),
            Err(EventError::NotJson(_))
        ));
        assert!(matches!(
            decode_bytes(b"[1,2]"),
            Err(EventError::Unrecognised(_))
        ));
    }

    use proptest::prelude::*;

    /// JSON built from the words the decoder looks for, so random events reach deep paths.
    fn event_like_json() -> impl Strategy<Value = Value> {
        let words = prop::sample::select(vec![
            "Records",
            "s3",
            "eventSource",
            "aws:sqs",
            "aws:sns",
            "EventSource",
            "body",
            "Sns",
            "Message",
            "Type",
            "Notification",
            "MessageId",
            "messageId",
            "source",
            "aws.s3",
            "detail-type",
            "detail",
            "Object Created",
            "bucket",
            "name",
            "object",
            "key",
            "eventName",
            "ObjectCreated:Put",
            "Event",
            "s3:TestEvent",
            "%zz",
            "a+b",
            "",
        ]);
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            words.clone().prop_map(Value::from),
            "\\PC{0,12}".prop_map(Value::from),
        ];
        leaf.prop_recursive(5, 64, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                prop::collection::btree_map(
                    words.clone().prop_map(str::to_owned),
                    inner.clone(),
                    0..5
                )
                .prop_map(|map| Value::Object(map.into_iter().collect())),
                // A JSON string holding JSON, as SQS bodies and SNS messages do.
                inner.prop_map(|value| Value::from(value.to_string())),
            ]
        })
    }

    fn s3_record(key: &str, sequencer: usize) -> Value {
        serde_json::json!({
            "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
            "eventTime": "2026-11-24T10:00:00.000Z", "eventName": "ObjectCreated:Put",
            "userIdentity": {"principalId": "A"}, "requestParameters": {"sourceIPAddress": "203.0.113.1"},
            "responseElements": {"x-amz-request-id": "R"},
            "s3": {"bucket": {"name": "b"}, "object": {"key": key, "sequencer": format!("{sequencer:X}")}}
        })
    }

    proptest! {
        #[test]
        fn decoding_arbitrary_events_never_panics(event in event_like_json()) {
            if let Ok(decoded) = decode(&event) {
                prop_assert!(decoded.changes.iter().all(|c| !c.key.is_empty()));
            }
            let _ = decode_bytes(event.to_string().as_bytes());
        }

        #[test]
        fn decoding_arbitrary_bytes_never_panics(raw in prop::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode_bytes(&raw);
        }

        #[test]
        fn any_key_s3_can_hold_decodes_and_plans_to_valid_paths(keys in prop::collection::vec("\\PC{1,80}", 1..20)) {
            const FORM: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
                .remove(b'-').remove(b'_').remove(b'.').remove(b'*').remove(b' ').remove(b'/');
            let records: Vec<Value> = keys
                .iter()
                .enumerate()
                .map(|(i, key)| s3_record(&percent_encoding::utf8_percent_encode(key, FORM).to_string().replace(' ', "+"), i))
                .collect();
            let decoded = decode(&serde_json::json!({ "Records": records })).unwrap();
            let decoded_keys: Vec<&str> = decoded.changes.iter().map(|c| c.key.as_str()).collect();
            prop_assert_eq!(decoded_keys, keys.iter().map(String::as_str).collect::<Vec<_>>());
            let config = crate::config::Config::from_lookup(|name| (name == "DISTRIBUTION_ID").then(|| "E1".to_string())).unwrap();
            let plan = crate::plan::plan(&decoded, &config);
            for path in plan.invalidations.iter().flat_map(|i| &i.paths) {
                prop_assert!(crate::path::is_valid_cloudfront_path(path), "{}", path);
            }
            prop_assert_eq!(plan.rejected.len(), 0);
        }
    }

    #[test]
    fn deep_nesting_is_refused_not_recursed() {
        let mut event = serde_json::json!({"Records": []});
        for i in 0..10 {
            event = serde_json::json!({"Type": "Notification", "MessageId": format!("m{i}"), "Message": event.to_string()});
        }
        let decoded = decode(&event).unwrap();
        assert!(decoded.changes.is_empty());
        assert_eq!(decoded.rejected.len(), 1);
    }
}
