#!/usr/bin/env python3
"""Writes the sample events in this folder.

S3 put/delete, SQS, SNS and API Gateway shapes come from `sam local generate-event`
(the AWS-documented samples); this script then sets event names, unique sequencers and
request ids, and encodes keys the way S3 notifications do (form style: a space is `+`).
EventBridge and s3:TestEvent samples follow the S3 user guide, which sam does not cover.

Usage: events/generate.py SAM_BINARY
"""
import copy
import json
import subprocess
import sys
import urllib.parse
from pathlib import Path

HERE = Path(__file__).resolve().parent
SAM = sys.argv[1] if len(sys.argv) > 1 else "sam"
BUCKET = "example-site"


def sam(*args):
    out = subprocess.run([SAM, "local", "generate-event", *args], check=True, capture_output=True, text=True,
                         env={"SAM_CLI_TELEMETRY": "0", "PATH": "/usr/bin:/bin"})
    return json.loads(out.stdout)


def form_encode(key):
    """What S3 does to a key before putting it in a notification."""
    return urllib.parse.quote_plus(key, safe="/")


_sequence = [0]


def s3_record(base, key, event_name):
    _sequence[0] += 1
    n = _sequence[0]
    record = copy.deepcopy(base)
    record["eventName"] = event_name
    record["eventTime"] = f"2026-11-24T10:00:{n:02d}.000Z"
    record["responseElements"]["x-amz-request-id"] = f"C3D13FE58DE4C8{n:02d}"
    record["s3"]["object"]["key"] = form_encode(key)
    record["s3"]["object"]["sequencer"] = f"0065F1A2B3C4D5E6{n:02X}"
    if event_name.startswith("ObjectRemoved") or event_name.startswith("LifecycleExpiration"):
        record["s3"]["object"].pop("size", None)
        record["s3"]["object"].pop("eTag", None)
    return record


def s3_event(put_base, *records):
    return {"Records": [s3_record(put_base, key, name) for key, name in records]}


def sqs_batch(sqs_base, bodies):
    messages = []
    for i, body in enumerate(bodies):
        message = copy.deepcopy(sqs_base)
        message["messageId"] = f"5f2b6a9e-3c1d-4e8f-9a7b-00000000{i:04d}"
        message["receiptHandle"] = f"AQEB-receipt-{i}"
        message["body"] = body if isinstance(body, str) else json.dumps(body)
        message["eventSourceARN"] = "arn:aws:sqs:us-east-1:123456789012:invalidator-queue"
        messages.append(message)
    return {"Records": messages}


def sns_envelope(message, n=1):
    return {
        "Type": "Notification",
        "MessageId": f"95df01b4-ee98-5cb9-9903-4c221d41eb{n:02d}",
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:site-changes",
        "Subject": "Amazon S3 Notification",
        "Message": json.dumps(message),
        "Timestamp": "2026-11-24T10:00:00.000Z",
        "SignatureVersion": "1",
        "Signature": "EXAMPLE",
        "SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000.pem",
        "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
    }


def eventbridge(detail_type, key, n, reason):
    detail = {
        "version": "0",
        "bucket": {"name": BUCKET},
        # EventBridge carries the key raw, unlike notifications (AWS's own guidance sample
        # aws-solutions-library-samples/guidance-for-medialake-on-aws, and moto's S3).
        "object": {"key": key, "sequencer": f"0065F1A2B3C4D5F0{n:02X}"},
        "request-id": f"N4N7GDK58NMKJ1{n:02d}",
        "requester": "123456789012",
        "source-ip-address": "203.0.113.15",
        "reason": reason,
    }
    if detail_type == "Object Created":
        detail["object"].update({"size": 5, "etag": "b1946ac92492d2347c6235b4d2611184"})
    else:
        detail["deletion-type"] = "Permanently Deleted"
    return {
        "version": "0",
        "id": f"17793124-05d4-b198-2fde-7ededc63b1{n:02d}",
        "detail-type": detail_type,
        "source": "aws.s3",
        "account": "123456789012",
        "time": "2026-11-24T10:00:00Z",
        "region": "us-east-1",
        "resources": [f"arn:aws:s3:::{BUCKET}"],
        "detail": detail,
    }


TEST_EVENT = {
    "Service": "Amazon S3",
    "Event": "s3:TestEvent",
    "Time": "2026-11-24T10:00:00.000Z",
    "Bucket": BUCKET,
    "RequestId": "5582815E1AEA5ADF",
    "HostId": "8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE",
}


def main():
    put = sam("s3", "put", "--bucket", BUCKET, "--key", "index.html")["Records"][0]
    sqs = sam("sqs", "receive-message")["Records"][0]
    sns = sam("sns", "notification")
    apigw = sam("apigateway", "aws-proxy")

    special = [
        ("docs/getting started.html", "ObjectCreated:Put"),
        ("downloads/c++ guide.pdf", "ObjectCreated:Put"),
        ("blog/café/menü.html", "ObjectCreated:Put"),
        ("people/~alice/profile.html", "ObjectCreated:Put"),
        ("reports/100% done?.html", "ObjectCreated:Put"),
    ]
    samples = {
        "s3-put.json": s3_event(put, ("index.html", "ObjectCreated:Put")),
        "s3-copy.json": s3_event(put, ("assets/app.css", "ObjectCreated:Copy")),
        "s3-multipart.json": s3_event(put, ("videos/intro.mp4", "ObjectCreated:CompleteMultipartUpload")),
        "s3-delete.json": s3_event(put, ("old/page.html", "ObjectRemoved:Delete")),
        "s3-delete-marker.json": s3_event(put, ("old/versioned.html", "ObjectRemoved:DeleteMarkerCreated")),
        "s3-lifecycle-expiration.json": s3_event(put, ("tmp/preview.html", "LifecycleExpiration:Delete")),
        "s3-several-records.json": s3_event(
            put,
            ("index.html", "ObjectCreated:Put"),
            ("about/index.html", "ObjectCreated:Put"),
            ("assets/logo.svg", "ObjectCreated:Post"),
            ("assets/old-logo.svg", "ObjectRemoved:Delete"),
            ("photos/raw.jpg", "ObjectRestore:Completed"),
        ),
        "s3-special-keys.json": s3_event(put, *special),
        "s3-test-event.json": TEST_EVENT,
        "sqs-batch.json": sqs_batch(sqs, [
            s3_event(put, ("blog/post-1/index.html", "ObjectCreated:Put")),
            s3_event(put, ("blog/post-2/index.html", "ObjectCreated:Put")),
            s3_event(put, ("blog/index.html", "ObjectCreated:Put")),
        ]),
        "sqs-sns.json": sqs_batch(sqs, [
            sns_envelope(s3_event(put, ("news/today.html", "ObjectCreated:Put")), 1),
            sns_envelope(s3_event(put, ("news/yesterday.html", "ObjectRemoved:Delete")), 2),
        ]),
        "sqs-test-event.json": sqs_batch(sqs, [TEST_EVENT]),
        "eventbridge-created.json": eventbridge("Object Created", "assets/main script.js", 1, "PutObject"),
        "eventbridge-deleted.json": eventbridge("Object Deleted", "assets/legacy.js", 2, "DeleteObject"),
    }
    sns_record = sns["Records"][0]
    sns_record["Sns"]["Message"] = json.dumps(s3_event(put, ("feeds/rss.xml", "ObjectCreated:Put")))
    sns_record["Sns"]["Subject"] = "Amazon S3 Notification"
    samples["sns.json"] = sns

    # One of each kind of bad input.
    missing = s3_event(put, ("a.html", "ObjectCreated:Put"))
    del missing["Records"][0]["s3"]["object"]["key"]
    long_key = s3_event(put, ("deep/" + "é" * 700 + ".html", "ObjectCreated:Put"))
    empty = s3_event(put, ("a.html", "ObjectCreated:Put"))
    empty["Records"][0]["s3"]["object"]["key"] = ""
    undecodable = s3_event(put, ("a.html", "ObjectCreated:Put"), ("good.html", "ObjectCreated:Put"))
    undecodable["Records"][0]["s3"]["object"]["key"] = "bad%zzkey.html"
    other_bucket = s3_event(put, ("index.html", "ObjectCreated:Put"))
    other_bucket["Records"][0]["s3"]["bucket"]["name"] = "some-other-bucket"
    samples.update({
        "bad-other-service.json": apigw,
        "bad-missing-key.json": missing,
        "bad-undecodable-key.json": undecodable,
        "bad-key-too-long.json": long_key,
        "bad-empty-key.json": empty,
        "bad-unrouted-bucket.json": other_bucket,
        "bad-sqs-partial.json": sqs_batch(sqs, [
            s3_event(put, ("good/one.html", "ObjectCreated:Put")),
            "this body is not JSON",
            s3_event(put, ("good/two.html", "ObjectCreated:Put")),
        ]),
    })
    # A site release: pages, a stylesheet, a fingerprinted bundle and a source map (what
    # SKIP_KEYS, CLEAN_URLS and QUERY_STRINGS are for). Made last, so the samples above keep
    # their sequencers.
    samples["s3-site-release.json"] = s3_event(
        put,
        ("index.html", "ObjectCreated:Put"),
        ("blog/hello-world.html", "ObjectCreated:Put"),
        ("css/site.css", "ObjectCreated:Put"),
        ("static/app.3f9a2c.js", "ObjectCreated:Put"),
        ("js/app.js.map", "ObjectCreated:Put"),
    )
    for name, event in samples.items():
        (HERE / name).write_text(json.dumps(event, indent=2, ensure_ascii=False) + "\n")
    (HERE / "bad-not-json.txt").write_text("this is not an event\n")
    print(f"wrote {len(samples) + 1} events to {HERE}")


if __name__ == "__main__":
    main()
