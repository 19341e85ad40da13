"""The benchmark's peer: the same job in Python with boto3, written the way AWS recommends
(client created at import, reused across invocations). It decodes S3 and SQS events,
encodes keys as CloudFront paths, and calls CreateInvalidation with a deterministic
CallerReference in batches of 3,000 paths. It does not collapse paths into wildcards.
"""
import hashlib
import json
import os
import urllib.parse

import boto3

CLOUDFRONT = boto3.client("cloudfront")
DISTRIBUTION_ID = os.environ["DISTRIBUTION_ID"]
# Characters CloudFront wants literal; everything else is percent-encoded.
SAFE = "/!$&'()*+,;=:@-._"
MAX_PATHS = 3000


def s3_records(event):
    for record in event.get("Records", []):
        if record.get("eventSource") == "aws:sqs":
            yield from s3_records(json.loads(record["body"]))
        elif "s3" in record:
            yield record


def handler(event, context):
    identities, paths = [], set()
    for record in s3_records(event):
        name = record["eventName"]
        if not (name.startswith("ObjectCreated:") or name.startswith("ObjectRemoved:")):
            continue
        key = urllib.parse.unquote_plus(record["s3"]["object"]["key"])
        paths.add("/" + urllib.parse.quote(key, safe=SAFE))
        identities.append(f'{name}:{record["s3"]["object"].get("sequencer", "")}:{key}')
    ordered = sorted(paths)
    ids = []
    for start in range(0, len(ordered), MAX_PATHS):
        batch = ordered[start:start + MAX_PATHS]
        digest = hashlib.sha256("\0".join(sorted(identities) + batch).encode()).hexdigest()[:32]
        answer = CLOUDFRONT.create_invalidation(
            DistributionId=DISTRIBUTION_ID,
            InvalidationBatch={"Paths": {"Quantity": len(batch), "Items": batch}, "CallerReference": f"py-{digest}"},
        )
        ids.append(answer["Invalidation"]["Id"])
    if event.get("Records") and event["Records"][0].get("eventSource") == "aws:sqs":
        return {"batchItemFailures": []}
    return {"invalidations": ids, "paths": len(ordered)}
