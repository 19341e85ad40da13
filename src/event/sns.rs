//! SNS: a notification whose `Message` is an S3 notification, either as SNS delivers it to
//! Lambda (a record with `EventSource: aws:sns`) or to SQS (the envelope as a message body).

use std::borrow::Cow;

use serde::Deserialize;

use super::{Container, Decoded, Envelope, Fields, Reason, Record, Scope, Source};

/// The `Sns` part of an SNS record.
#[derive(Deserialize)]
struct Notification<'a> {
    #[serde(rename = "MessageId", borrow)]
    message_id: Cow<'a, str>,
    #[serde(rename = "Message", borrow)]
    message: Cow<'a, str>,
}

/// Decodes element `index` of a `Records` array, an SNS record.
pub(super) fn decode_record(decoded: &mut Decoded, record: &Record, scope: &Scope, index: usize) {
    let parsed = record
        .sns
        .ok_or_else(|| "no Sns field".to_owned())
        .and_then(|raw| serde_json::from_str::<Notification>(raw.get()).map_err(|e| e.to_string()));
    match parsed {
        Ok(sns) => {
            let label = format!("Records[{index}] sns");
            let envelope = Envelope {
                label: &label,
                channel: "sns",
                id: &sns.message_id,
            };
            let inner = scope.nested(envelope, None, Source::Sns);
            decoded.decode_embedded(&sns.message, &inner, Container::Message);
        }
        Err(error) => decoded.reject(
            scope,
            format_args!("Records[{index}]"),
            Reason::Malformed {
                what: "not an SNS record",
                error,
            },
        ),
    }
}

/// The envelope SNS puts around a message it delivers to SQS (raw delivery off); false when
/// it lacks the fields of one.
pub(super) fn decode_envelope(decoded: &mut Decoded, fields: &Fields, scope: &Scope) -> bool {
    let (Some(id), Some(message)) = (
        fields.sns_message_id.as_deref(),
        fields.sns_message.as_deref(),
    ) else {
        return false;
    };
    let envelope = Envelope {
        label: "sns",
        channel: "sns",
        id,
    };
    let inner = scope.nested(envelope, None, Source::Sns);
    decoded.decode_embedded(message, &inner, Container::Message);
    true
}
