//! An S3 notification record. Only event name, bucket and key are required: other emitters
//! (moto, S3-compatible stores, hand-written tests) leave out the rest.

use serde::Deserialize;

use super::{
    Decoded, ObjectLabel, Part, Reason, Record, Scope, Text, change_identity, change_kind,
};
use crate::path::decode_key;

/// The record's `s3` part.
#[derive(Debug, Default, Deserialize)]
pub(super) struct Entity<'a> {
    #[serde(default, borrow)]
    bucket: Part<Bucket<'a>>,
    #[serde(default, borrow)]
    object: Part<Object<'a>>,
}

#[derive(Debug, Default, Deserialize)]
struct Bucket<'a> {
    #[serde(default, borrow)]
    name: Text<'a>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Object<'a> {
    /// Form-encoded, as S3 writes keys into notifications.
    #[serde(default, borrow)]
    key: Text<'a>,
    #[serde(default, borrow)]
    sequencer: Text<'a>,
    #[serde(default, borrow)]
    version_id: Text<'a>,
    #[serde(default, borrow)]
    e_tag: Text<'a>,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct ResponseElements<'a> {
    #[serde(default, rename = "x-amz-request-id", borrow)]
    request_id: Text<'a>,
}

/// The first field used that holds another JSON type than the one S3 writes.
fn wrong_field(record: &Record, entity: &Entity) -> Option<&'static str> {
    let object = entity.object.as_ref();
    let elements = record.response_elements.as_ref();
    [
        (
            matches!(entity.bucket, Part::Wrong),
            "s3.bucket is not an object",
        ),
        (
            matches!(entity.object, Part::Wrong),
            "s3.object is not an object",
        ),
        (
            entity.bucket.as_ref().is_some_and(|b| b.name.is_wrong()),
            "s3.bucket.name is not a string",
        ),
        (
            object.is_some_and(|o| o.key.is_wrong()),
            "s3.object.key is not a string",
        ),
        (
            object.is_some_and(|o| o.sequencer.is_wrong()),
            "s3.object.sequencer is not a string",
        ),
        (
            object.is_some_and(|o| o.version_id.is_wrong()),
            "s3.object.versionId is not a string",
        ),
        (
            object.is_some_and(|o| o.e_tag.is_wrong()),
            "s3.object.eTag is not a string",
        ),
        (
            matches!(record.response_elements, Part::Wrong),
            "responseElements is not an object",
        ),
        (
            elements.is_some_and(|e| e.request_id.is_wrong()),
            "responseElements.x-amz-request-id is not a string",
        ),
    ]
    .into_iter()
    .find_map(|(wrong, what)| wrong.then_some(what))
}

/// Decodes element `index` of a `Records` array, an S3 record whose `s3` part is `entity`.
pub(super) fn decode_record(
    decoded: &mut Decoded,
    record: &Record,
    entity: &Entity,
    scope: &Scope,
    index: usize,
) {
    let at = format_args!("Records[{index}]");
    if let Some(error) = wrong_field(record, entity) {
        let reason = Reason::Malformed {
            what: "S3 record is malformed",
            error: error.into(),
        };
        return decoded.reject(scope, at, reason);
    }
    let bucket = entity.bucket.as_ref().and_then(|b| b.name.as_deref());
    let object = entity.object.as_ref();
    let (Some(bucket), Some(object), Some(raw_key)) =
        (bucket, object, object.and_then(|o| o.key.as_deref()))
    else {
        return decoded.reject(
            scope,
            at,
            Reason::Missing("S3 record has no s3.bucket.name or s3.object.key"),
        );
    };
    let label = ObjectLabel {
        at: &at,
        bucket,
        key: raw_key,
    };
    let Some(event_name) = record.event_name.as_deref() else {
        let reason = Reason::Missing("S3 record has no eventName (or it is not a string)");
        return decoded.reject(scope, &label, reason);
    };
    let Some(kind) = change_kind(event_name) else {
        let reason = Reason::NoContentChange {
            event: event_name.to_owned(),
        };
        return decoded.skip(scope, &label, reason);
    };
    let key = match decode_key(raw_key) {
        Ok(key) => key.into_owned(),
        Err(e) => return decoded.reject(scope, &label, Reason::Key(e)),
    };
    let identity = change_identity(
        scope,
        ["s3", event_name, bucket, raw_key],
        [
            object.sequencer.as_deref(),
            record
                .response_elements
                .as_ref()
                .and_then(|e| e.request_id.as_deref()),
            object.version_id.as_deref(),
            object.e_tag.as_deref(),
            record.event_time.as_deref(),
        ],
        at,
    );
    decoded
        .changes
        .push(scope.change(&label, bucket, key, kind, identity));
}
