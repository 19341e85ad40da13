"""Notifications written by an S3 implementation we did not write: moto's.

Against a running moto server (argv[1], its endpoint), creates a bucket whose notifications
go to an SQS queue and, through an EventBridge rule, to a second queue; puts and deletes
objects with the keys given as a JSON list on stdin; receives what arrived in each queue and
prints, as JSON, both batches wrapped as Lambda's SQS event source delivers them.
"""

import hashlib
import json
import sys

import boto3

REGION = "us-east-1"
BUCKET = "example-site"


def client(service, endpoint):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="AKIDTEST",
        aws_secret_access_key="secret",
    )


def lambda_sqs_event(sqs, queue_url, queue_arn):
    """Every message of the queue, as the records of one Lambda SQS invocation."""
    records = []
    while True:
        received = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, AttributeNames=["All"]
        ).get("Messages", [])
        if not received:
            return {"Records": records}
        for message in received:
            records.append(
                {
                    "messageId": message["MessageId"],
                    "receiptHandle": message["ReceiptHandle"],
                    "body": message["Body"],
                    "attributes": message.get("Attributes", {}),
                    "messageAttributes": {},
                    "md5OfBody": hashlib.md5(message["Body"].encode()).hexdigest(),
                    "eventSource": "aws:sqs",
                    "eventSourceARN": queue_arn,
                    "awsRegion": REGION,
                }
            )
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def main():
    endpoint = sys.argv[1]
    keys = json.load(sys.stdin)
    s3, sqs, events = (client(s, endpoint) for s in ("s3", "sqs", "events"))

    queues = {}
    for name in ("notifications", "eventbridge"):
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        queues[name] = (url, arn)

    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_notification_configuration(
        Bucket=BUCKET,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": queues["notifications"][1],
                    "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"],
                }
            ],
            "EventBridgeConfiguration": {},
        },
    )
    events.put_rule(
        Name="site-changes",
        EventPattern=json.dumps(
            {"source": ["aws.s3"], "detail-type": ["Object Created", "Object Deleted"]}
        ),
    )
    events.put_targets(
        Rule="site-changes", Targets=[{"Id": "queue", "Arn": queues["eventbridge"][1]}]
    )

    for key in keys:
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"<p>hello</p>")
    # A delete too, so both event kinds come from moto.
    s3.delete_object(Bucket=BUCKET, Key=keys[0])

    json.dump(
        {name: lambda_sqs_event(sqs, *queue) for name, queue in queues.items()},
        sys.stdout,
    )


if __name__ == "__main__":
    main()
