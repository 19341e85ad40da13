//! An SQS batch: every message's body is an S3 notification, an SNS envelope around one, or
//! an EventBridge event. Each message's id is kept so that only failed messages come back.

use super::{Container, Decoded, Item, Reason, Scope};

/// Decodes a batch whose records are SQS messages, in delivery order.
pub(super) fn decode_batch(decoded: &mut Decoded, records: Vec<Item>) {
    let mut ids = Vec::with_capacity(records.len());
    for (index, record) in records.into_iter().enumerate() {
        let message_index = Some(ids.len());
        let fallback_id = || format!("Records[{index}]");
        let record = match record {
            Item::Record(record) => record,
            Item::NotAnObject => {
                // Without a message id SQS cannot be told which message failed.
                ids.push(fallback_id());
                let scope = Scope {
                    message_index,
                    depth: 1,
                    ..Scope::default()
                };
                decoded.reject(
                    &scope,
                    &fallback_id(),
                    Reason::Malformed {
                        what: "not an SQS message",
                        error: "not a JSON object".into(),
                    },
                );
                continue;
            }
        };
        let id = record.message_id.into_owned().unwrap_or_else(fallback_id);
        let scope = Scope {
            label: format!("message {id}"),
            identity: format!("sqs:{id}"),
            message_index,
            depth: 1,
        };
        ids.push(id);
        match record.body.as_deref() {
            Some(body) => decoded.decode_embedded(body, &scope, Container::Body),
            None => decoded.reject(
                &scope,
                "",
                Reason::Missing("SQS message has no body (or it is not a string)"),
            ),
        }
    }
    decoded.sqs_message_ids = Some(ids);
}
