//! An EventBridge event from S3 ("Object Created", "Object Deleted"), delivered directly or
//! as an SQS message body. Its key is raw, unlike a notification's.

use std::borrow::Cow;

use serde::Deserialize;

use super::{Change, ChangeKind, Decoded, Fields, ObjectLabel, Reason, Scope, change_identity};
use crate::path::{KeyError, decode_key};

/// The `detail` of an EventBridge event from S3.
#[derive(Deserialize)]
struct Detail<'a> {
    #[serde(borrow)]
    bucket: Bucket<'a>,
    #[serde(borrow)]
    object: Object<'a>,
    #[serde(rename = "request-id", borrow)]
    request_id: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Bucket<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
}

#[derive(Deserialize)]
struct Object<'a> {
    #[serde(borrow)]
    key: Cow<'a, str>,
    #[serde(borrow)]
    sequencer: Option<Cow<'a, str>>,
    #[serde(rename = "version-id", borrow)]
    version_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    etag: Option<Cow<'a, str>>,
}

pub(super) fn decode_event(decoded: &mut Decoded, event: &Fields, scope: &Scope) {
    let id = event.id.as_deref().unwrap_or_default();
    let detail_type = event.detail_type.as_deref().unwrap_or_default();
    let label = format!("eventbridge {id}");
    let kind = match detail_type {
        "Object Created" => ChangeKind::Created,
        "Object Deleted" => ChangeKind::Removed,
        other => {
            return decoded.skip(
                scope,
                &label,
                Reason::NoContentChange {
                    event: format!("{other:?}"),
                },
            );
        }
    };
    let detail = match event
        .detail
        .map(|raw| serde_json::from_str::<Detail>(raw.get()))
    {
        Some(Ok(detail)) => detail,
        Some(Err(e)) => {
            return decoded.reject(
                scope,
                &label,
                Reason::Malformed {
                    what: "EventBridge detail is malformed",
                    error: e.to_string(),
                },
            );
        }
        None => {
            return decoded.reject(
                scope,
                &label,
                Reason::Missing("EventBridge event has no detail"),
            );
        }
    };
    let bucket = detail.bucket.name.as_ref();
    let key = detail.object.key.as_ref();
    let label = ObjectLabel {
        at: &label,
        bucket,
        key,
    };
    if key.is_empty() {
        return decoded.reject(scope, &label, Reason::Key(KeyError::Empty));
    }
    let identity = change_identity(
        scope,
        ["eventbridge", detail_type, bucket, key],
        [
            detail.object.sequencer.as_deref(),
            detail.request_id.as_deref(),
            detail.object.version_id.as_deref(),
            detail.object.etag.as_deref(),
            event.time.map(|raw| raw.get()),
        ],
        id,
    );
    let change = scope.change(&label, bucket, key.to_owned(), kind, identity);
    // The key is raw (AWS's own samples and moto's S3 send it unencoded); AWS documents
    // nothing, so the form-decoded reading is covered too when it differs and decodes.
    match decode_key(key) {
        Ok(decoded_key) if decoded_key != key => {
            let second = Change {
                key: decoded_key.into_owned(),
                second_reading: true,
                ..change.clone()
            };
            decoded.changes.extend([change, second]);
        }
        _ => decoded.changes.push(change),
    }
}
