//! Generated events for load: S3 notifications with unique identities, one per key.

use serde_json::{Value, json};

/// One S3 notification record, as S3 writes it (the key form-encoded: a space is `+`).
pub fn s3_record(index: usize, key: &str) -> Value {
    json!({
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2026-11-24T10:00:00.000Z", "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "AWS:EXAMPLE"},
        "requestParameters": {"sourceIPAddress": "203.0.113.15"},
        "responseElements": {"x-amz-request-id": format!("REQ{index:013}"), "x-amz-id-2": "EXAMPLE"},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "invalidator",
               "bucket": {"name": "example-site", "ownerIdentity": {"principalId": "EXAMPLE"}, "arn": "arn:aws:s3:::example-site"},
               "object": {"key": key.replace(' ', "+"), "size": 1024, "eTag": "0123456789abcdef", "sequencer": format!("0065F1A2{index:012X}")}}
    })
}

/// An SQS message whose body is one S3 notification, as S3 -> SQS delivers them.
pub fn sqs_message(index: usize, key: &str) -> Value {
    json!({
        "messageId": format!("msg-{index:08}"),
        "receiptHandle": format!("handle-{index}"),
        "body": json!({ "Records": [s3_record(index, key)] }).to_string(),
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:invalidator-buffer",
        "awsRegion": "us-east-1"
    })
}

/// A direct S3 event with one record per key.
pub fn s3_event(keys: &[String]) -> Value {
    json!({ "Records": keys.iter().enumerate().map(|(i, key)| s3_record(i, key)).collect::<Vec<_>>() })
}

/// An SQS batch with one message per key.
pub fn sqs_event(keys: &[String]) -> Value {
    json!({ "Records": keys.iter().enumerate().map(|(i, key)| sqs_message(i, key)).collect::<Vec<_>>() })
}

/// Keys of a static site: `count` files spread over `folders` folders in five sections.
pub fn site_keys(count: usize, folders: usize) -> Vec<String> {
    let sections = ["blog", "docs", "assets/img", "assets/js", "products"];
    (0..count)
        .map(|i| {
            let section = sections[i % sections.len()];
            let folder = (i / sections.len()) % (folders / sections.len()).max(1);
            format!("{section}/f{folder:03}/page {i}.html")
        })
        .collect()
}
