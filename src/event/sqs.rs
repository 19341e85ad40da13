//! An SQS batch: every message's body is an S3 notification, an SNS envelope around one, or
//! an EventBridge event. Each message's id is kept so that only failed messages come back.

use super::{Container, Decoded, Envelope, Item, Part, Reason, Scope, Source};

/// Decodes element `index` of an SQS batch, the message after those whose ids are in `ids`.
pub(super) fn decode_message(
    decoded: &mut Decoded,
    message: Item,
    index: usize,
    ids: &mut Vec<String>,
) {
    let message_index = Some(ids.len());
    let root = Scope::default();
    let fallback_id = || format!("Records[{index}]");
    let Part::Object(message) = message else {
        // Without a message id SQS cannot be told which message failed.
        ids.push(fallback_id());
        let scope = Scope {
            message_index,
            depth: 1,
            source: Source::Queue(None),
            ..Scope::default()
        };
        let reason = Reason::Malformed {
            what: "not an SQS message",
            error: "not a JSON object".into(),
        };
        return decoded.reject(&scope, fallback_id(), reason);
    };
    let id = match message.message_id.as_deref() {
        Some(id) => id.to_owned(),
        None => fallback_id(),
    };
    let envelope = Envelope {
        label: "message",
        channel: "sqs",
        id: &id,
    };
    // Lambda sets the queue's ARN; the message's writer cannot.
    let source = Source::Queue(
        message
            .event_source_arn
            .as_deref()
            .map(|arn| decoded.queue_index(arn)),
    );
    let scope = root.nested(envelope, message_index, source);
    match message.body.as_deref() {
        Some(body) => decoded.decode_embedded(body, &scope, Container::Body),
        None => decoded.reject(
            &scope,
            "",
            Reason::Missing("SQS message has no body (or it is not a string)"),
        ),
    }
    ids.push(id);
}
