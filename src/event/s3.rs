//! An S3 notification record. Only event name, bucket and key are required: other emitters
//! (moto, S3-compatible stores, hand-written tests) leave out the rest.

use std::borrow::Cow;

use serde::Deserialize;

use super::{Decoded, Reason, Record, Scope, change_identity, change_kind};
use crate::path::{abbreviate, decode_key};

/// The record's `s3` part.
#[derive(Deserialize)]
struct Entity<'a> {
    #[serde(borrow)]
    bucket: Option<Bucket<'a>>,
    #[serde(borrow)]
    object: Option<Object<'a>>,
}

#[derive(Deserialize)]
struct Bucket<'a> {
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Object<'a> {
    /// Form-encoded, as S3 writes keys into notifications.
    #[serde(borrow)]
    key: Option<Cow<'a, str>>,
    #[serde(borrow)]
    sequencer: Option<Cow<'a, str>>,
    #[serde(borrow)]
    version_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    e_tag: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct ResponseElements<'a> {
    #[serde(rename = "x-amz-request-id", borrow)]
    request_id: Option<Cow<'a, str>>,
}

fn malformed(error: serde_json::Error) -> Reason {
    Reason::Malformed {
        what: "S3 record is malformed",
        error: error.to_string(),
    }
}

pub(super) fn decode_record(decoded: &mut Decoded, record: &Record, scope: &Scope, label: &str) {
    let parts = record
        .s3
        .map(|raw| serde_json::from_str::<Entity>(raw.get()))
        .transpose()
        .and_then(|entity| {
            let elements = record
                .response_elements
                .map(|raw| serde_json::from_str::<Option<ResponseElements>>(raw.get()))
                .transpose()?
                .flatten();
            Ok((entity, elements))
        });
    let (entity, elements) = match parts {
        Ok(parts) => parts,
        Err(e) => return decoded.reject(scope, label, malformed(e)),
    };
    let bucket = entity
        .as_ref()
        .and_then(|e| e.bucket.as_ref()?.name.as_deref());
    let object = entity.as_ref().and_then(|e| e.object.as_ref());
    let (Some(bucket), Some(object), Some(raw_key)) =
        (bucket, object, object.and_then(|o| o.key.as_deref()))
    else {
        return decoded.reject(
            scope,
            label,
            Reason::Missing("S3 record has no s3.bucket.name or s3.object.key"),
        );
    };
    let label = format!("{label} s3://{bucket}/{}", abbreviate(raw_key));
    let Some(event_name) = record.event_name.as_deref() else {
        return decoded.reject(
            scope,
            &label,
            Reason::Missing("S3 record has no eventName (or it is not a string)"),
        );
    };
    let Some(kind) = change_kind(event_name) else {
        return decoded.skip(
            scope,
            &label,
            Reason::NoContentChange {
                event: event_name.to_owned(),
            },
        );
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
            elements.as_ref().and_then(|e| e.request_id.as_deref()),
            object.version_id.as_deref(),
            object.e_tag.as_deref(),
            record.event_time.as_deref(),
        ],
        &label,
    );
    decoded
        .changes
        .push(scope.change(&label, bucket, key, kind, identity));
}
