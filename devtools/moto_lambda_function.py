"""Creates in moto a function as the stack deploys it in Direct mode, for `doctor --function`.

Usage: python moto_lambda_function.py ENDPOINT NAME < settings.json

settings.json: {"environment": {...}, "stack": "STACK", "on_failure": "QUEUE_ARN"}. moto
needs an IAM role before it accepts a function, and the Rust SDK crates the project uses
have no IAM client: boto3 (moto's own dependency) makes both. Prints the function's ARN.
"""

import io
import json
import sys
import zipfile

import boto3


def main() -> None:
    endpoint, name = sys.argv[1], sys.argv[2]
    settings = json.load(sys.stdin)
    session = boto3.session.Session(
        aws_access_key_id="AKIDTEST",
        aws_secret_access_key="secret",
        region_name="us-east-1",
    )
    iam = session.client("iam", endpoint_url=endpoint)
    role = iam.create_role(
        RoleName=f"{name}-role",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("bootstrap", "#!/bin/sh\n")
    lambda_ = session.client("lambda", endpoint_url=endpoint)
    function = lambda_.create_function(
        FunctionName=name,
        Runtime="provided.al2023",
        Role=role,
        Handler="bootstrap",
        Code={"ZipFile": code.getvalue()},
        Environment={"Variables": settings["environment"]},
        Tags={"aws:cloudformation:stack-name": settings["stack"]},
    )
    lambda_.put_function_event_invoke_config(
        FunctionName=name,
        MaximumRetryAttempts=2,
        DestinationConfig={"OnFailure": {"Destination": settings["on_failure"]}},
    )
    print(function["FunctionArn"])


if __name__ == "__main__":
    main()
