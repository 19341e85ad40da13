"""The deployment contract: what template.yaml gives the function, in every combination of
Mode, distribution (its own, auto, a tenant, through a partner's role), CompletionEvents and
bucket (existing or new), against what the function does with it.

For each combination the template is expanded with the SAM translator (as CloudFormation's
transform would) for those parameter values, then resolved here (Conditions, Fn::If, Ref,
Fn::Sub, Fn::GetAtt of made-up physical ids) into the resources a deploy gets. Then:

- the debug binary's `plan` runs on the event that combination delivers (an S3 notification,
  through SQS or not, or an EventBridge event), with exactly the environment the template
  gives the function, and must plan an invalidation for the configured distribution;
- every call the function makes for that plan (read from src/: CreateInvalidation or its
  tenant form, GetInvalidation or its tenant form with completion events, ListDistributions
  with auto, sts:AssumeRole with a role, SQS for its queues, PutEvents to the bus) is allowed
  by the role, and the role grants nothing else;
- through a role, the partner account's policy documented in docs/deployment.md allows the
  CloudFront calls made there and nothing else.

`DistributionId=auto` lists distributions at start-up, also in `plan`: moto's CloudFront (and
STS, for a role) on loopback answers, holding a distribution whose origin is the bucket in the
function's account and one in the partner's.

Run with the SAM venv's Python after `cargo build`:
.venv-sam/bin/python -m unittest tests/test_contract.py
"""
import copy
import fnmatch
import itertools
import json
import logging
import os
import re
import socket
import subprocess
import time
import unittest
from pathlib import Path

from cfnlint.decode import decode_str
from samtranslator.translator.transform import transform

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = json.loads(json.dumps(decode_str((ROOT / "template.yaml").read_text())[0]))
BINARY = Path(os.environ.get("INVALIDATOR_BINARY", ROOT / "target/debug/s3-cloudfront-invalidator"))
MOTO_SERVER = Path(os.environ.get("MOTO_SERVER", ROOT / ".venv/bin/moto_server"))
EVENTS = ROOT / "events"

ACCOUNT = "123456789012"
PARTNER_ACCOUNT = "111122223333"
REGION = "eu-west-1"
PARTITION = "aws"
STACK = "site-invalidator"
# The bucket of the sample events.
BUCKET = "example-site"
ROLE_ARN = f"arn:aws:iam::{PARTNER_ACCOUNT}:role/site-invalidator"
BUS_ARN = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/site-events"
BASIC_LOGGING = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
# The translator warns of metrics nobody publishes at every expansion.
logging.getLogger("samtranslator.metrics").setLevel(logging.ERROR)

MODES = ["Queued", "Direct"]
# How the distribution is reached: the template's distribution parameters for each.
DISTRIBUTIONS = {
    "own": {"DistributionId": "E2QWRUHAPOMQZL"},
    "auto": {"DistributionId": "auto"},
    "tenant": {"DistributionId": "E3MULTITENANT01", "DistributionTenantId": "dt_2wjDZi3hD1ivOXf6rpZJO1AB"},
    "role": {"DistributionId": "E1PARTNER0001", "DistributionRoleArn": ROLE_ARN, "DistributionExternalId": "site-4f1c"},
    "role+tenant": {"DistributionId": "E1PARTNER0001", "DistributionTenantId": "dt_3xkEaj4iE2je8PXg7sqaKP2BC",
                    "DistributionRoleArn": ROLE_ARN},
    "role+auto": {"DistributionId": "auto", "DistributionRoleArn": ROLE_ARN, "DistributionExternalId": "site-4f1c"},
}
# CompletionEvents: off, a bus of the account by name, or a bus by ARN.
COMPLETION_EVENTS = ["off", "site-events", BUS_ARN]
BUCKETS = {"existing": {"NewBucket": "false"}, "new": {"NewBucket": "true"}}


def parameters(mode="Queued", distribution="own", completion_events="off", bucket="existing", **overrides):
    """The parameter values of one combination, the template's defaults for the rest."""
    values = {name: str(p["Default"]) for name, p in TEMPLATE["Parameters"].items() if "Default" in p}
    values.update(Mode=mode, CompletionEvents=completion_events, BucketName=BUCKET)
    values.update(DISTRIBUTIONS[distribution])
    values.update(BUCKETS[bucket])
    values.update(overrides)
    return values


def every_combination():
    return itertools.product(MODES, DISTRIBUTIONS, COMPLETION_EVENTS, BUCKETS)


def refused_combination(distribution, bucket):
    """What the Rules refuse: auto on a bucket the stack is yet to create."""
    return distribution.endswith("auto") and bucket == "new"


# --- Rules ------------------------------------------------------------------------------

def evaluate_rule(value, values):
    """A Rules condition or assertion as CloudFormation evaluates it: Ref gives the
    parameter's value as a string, and the rule functions compare strings."""
    if isinstance(value, dict):
        (function, args), = value.items()
        if function == "Ref":
            return str(values[args])
        args = [evaluate_rule(arg, values) for arg in args]
        if function == "Fn::Equals":
            return args[0] == args[1]
        if function == "Fn::Not":
            return not args[0]
        if function == "Fn::And":
            return all(args)
        if function == "Fn::Or":
            return any(args)
        if function == "Fn::Contains":
            return args[1] in args[0]
        raise AssertionError(f"rule function this test does not know: {function}")
    if isinstance(value, list):
        return [evaluate_rule(v, values) for v in value]
    return str(value)


def refusals(values):
    """The AssertDescription of every Rules assertion the values fail."""
    failed = []
    for rule in TEMPLATE.get("Rules", {}).values():
        if evaluate_rule(rule.get("RuleCondition", True), values):
            failed += [a["AssertDescription"] for a in rule["Assertions"] if not evaluate_rule(a["Assert"], values)]
    return failed


def constraint_failures(values):
    """The parameters whose value CloudFormation refuses (missing, pattern, allowed values)."""
    failed = []
    for name, p in TEMPLATE["Parameters"].items():
        value = values.get(name, p.get("Default"))
        if value is None:
            failed.append(f"{name}: no value")
            continue
        value = str(value)
        if "AllowedPattern" in p and not re.fullmatch(p["AllowedPattern"], value):
            failed.append(f"{name}: pattern")
        if "AllowedValues" in p and value not in [str(v) for v in p["AllowedValues"]]:
            failed.append(f"{name}: allowed values")
    return failed


# --- Expanding and resolving ------------------------------------------------------------

class ManagedPolicies:
    def load(self):
        return {"AWSLambdaBasicExecutionRole": BASIC_LOGGING}


def expand(values):
    template = copy.deepcopy(TEMPLATE)
    # The translator wants an uploaded artefact, as after `sam package`.
    template["Resources"]["InvalidatorFunction"]["Properties"]["CodeUri"] = "s3://artefacts/bootstrap.zip"
    return transform(template, values, ManagedPolicies())


ARN_FORMATS = {
    "AWS::SQS::Queue": "arn:{partition}:sqs:{region}:{account}:{name}",
    "AWS::Lambda::Function": "arn:{partition}:lambda:{region}:{account}:function:{name}",
    "AWS::IAM::Role": "arn:{partition}:iam::{account}:role/{name}",
    "AWS::Events::Rule": "arn:{partition}:events:{region}:{account}:rule/{name}",
    "AWS::S3::Bucket": "arn:{partition}:s3:::{name}",
    "AWS::SNS::Topic": "arn:{partition}:sns:{region}:{account}:{name}",
    "AWS::Logs::LogGroup": "arn:{partition}:logs:{region}:{account}:log-group:{name}:*",
    "AWS::CloudWatch::Alarm": "arn:{partition}:cloudwatch:{region}:{account}:alarm:{name}",
}


class Resolver:
    """A template's intrinsic functions evaluated for one set of parameter values, as
    CloudFormation would, with made-up physical ids for its resources."""

    def __init__(self, template, values):
        self.values = values
        self.template = template
        self.conditions = {}
        for name in self.template.get("Conditions", {}):
            self.condition(name)

    def condition(self, name):
        if name not in self.conditions:
            self.conditions[name] = self.resolve(self.template["Conditions"][name])
        return self.conditions[name]

    def physical_name(self, logical):
        resource = self.template["Resources"][logical]
        props = resource.get("Properties", {})
        for key in ["BucketName", "LogGroupName", "FunctionName", "QueueName"]:
            if key in props:
                return self.resolve(props[key])
        return f"{STACK}-{logical}-ABC123"

    def ref(self, name):
        pseudo = {"AWS::AccountId": ACCOUNT, "AWS::Region": REGION, "AWS::Partition": PARTITION,
                  "AWS::StackName": STACK, "AWS::URLSuffix": "amazonaws.com", "AWS::NoValue": NO_VALUE,
                  "AWS::StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{STACK}/1f2e3d4c-5b6a-4798-8a9b-0c1d2e3f4a5b"}
        if name in pseudo:
            return pseudo[name]
        if name in self.values:
            return self.values[name]
        if name in self.template.get("Parameters", {}):
            return str(self.template["Parameters"][name]["Default"])
        resource_type = self.template["Resources"][name]["Type"]
        if resource_type == "AWS::SQS::Queue":
            return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{self.physical_name(name)}"
        return self.physical_name(name)

    def get_att(self, logical, attribute):
        resource_type = self.template["Resources"][logical]["Type"]
        name = self.physical_name(logical)
        if attribute == "Arn":
            return ARN_FORMATS[resource_type].format(partition=PARTITION, region=REGION, account=ACCOUNT, name=name)
        if attribute == "QueueName":
            return name
        raise AssertionError(f"attribute this test does not know: {logical}.{attribute}")

    def sub(self, text, variables):
        def one(match):
            name = match.group(1)
            if name in variables:
                return str(variables[name])
            if "." in name:
                return str(self.get_att(*name.split(".", 1)))
            return str(self.ref(name))
        return re.sub(r"\$\{([^}!]+)\}", one, text)

    def resolve(self, value):
        if isinstance(value, list):
            resolved = [self.resolve(v) for v in value]
            return [v for v in resolved if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, args), = value.items()
            if key == "Ref":
                return self.ref(args)
            if key == "Condition":
                return self.condition(args)
            if key == "Fn::If":
                name, yes, no = args
                return self.resolve(yes if self.condition(name) else no)
            if key == "Fn::Equals":
                left, right = (self.resolve(a) for a in args)
                return str(left) == str(right)
            if key == "Fn::Not":
                return not self.resolve(args[0])
            if key == "Fn::And":
                return all(self.resolve(a) for a in args)
            if key == "Fn::Or":
                return any(self.resolve(a) for a in args)
            if key == "Fn::Sub":
                text, variables = (args, {}) if isinstance(args, str) else args
                return self.sub(text, {k: self.resolve(v) for k, v in variables.items()})
            if key == "Fn::GetAtt":
                logical, attribute = args.split(".", 1) if isinstance(args, str) else args
                return self.get_att(logical, attribute)
            if key == "Fn::FindInMap":
                mapping, first, second = (self.resolve(a) for a in args)
                return self.template["Mappings"][mapping][str(first)][str(second)]
            if key == "Fn::Select":
                index, items = self.resolve(args[0]), self.resolve(args[1])
                return items[int(index)]
            if key == "Fn::Split":
                separator, text = args[0], self.resolve(args[1])
                return text.split(separator)
            if key == "Fn::Join":
                separator, items = args[0], self.resolve(args[1])
                return separator.join(str(i) for i in items)
            if key.startswith("Fn::"):
                raise AssertionError(f"intrinsic function this test does not know: {key}")
        resolved = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}


class Deployment(Resolver):
    """The expanded template resolved for one set of parameter values: the resources and
    outputs a deploy gets."""

    def __init__(self, values):
        super().__init__(expand(values), values)
        self.resources = {
            name: self.resolve(resource)
            for name, resource in self.template["Resources"].items()
            if self.conditions.get(resource.get("Condition"), True)
        }
        self.outputs = {
            name: self.resolve(output["Value"])
            for name, output in self.template.get("Outputs", {}).items()
            if self.conditions.get(output.get("Condition"), True)
        }

    def queue_names_in(self, granted):
        """The logical names of the stack's queues that `granted` names."""
        arns = {self.get_att(name, "Arn"): name for name, r in self.resources.items() if r["Type"] == "AWS::SQS::Queue"}
        return {arns[resource] for _, resource in granted if resource in arns}

    def function(self):
        return self.resources["InvalidatorFunction"]["Properties"]

    def environment(self):
        """The function's environment on Lambda: the template's variables, and those Lambda
        sets itself (its advanced logging controls among them)."""
        props = self.function()
        logging = props.get("LoggingConfig", {})
        lambda_sets = {
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_LAMBDA_FUNCTION_NAME": self.physical_name("InvalidatorFunction"),
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(props["MemorySize"]),
            "AWS_LAMBDA_LOG_FORMAT": logging.get("LogFormat", "Text"),
            "AWS_LAMBDA_LOG_LEVEL": logging.get("ApplicationLogLevel", "INFO"),
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
        }
        variables = props["Environment"]["Variables"]
        for name, value in variables.items():
            assert isinstance(value, str), (name, value)
        return {**lambda_sets, **variables}

    def grants(self):
        """The role's (action, resource) pairs, each statement checked for what IAM would
        read more broadly than it looks."""
        roles = [r for r in self.resources.values() if r["Type"] == "AWS::IAM::Role"]
        assert len(roles) == 1, "one role, the function's"
        role = roles[0]["Properties"]
        assert role.get("ManagedPolicyArns") == [BASIC_LOGGING], role.get("ManagedPolicyArns")
        principals = [s["Principal"] for s in role["AssumeRolePolicyDocument"]["Statement"]]
        assert principals == [{"Service": ["lambda.amazonaws.com"]}], principals
        granted = set()
        for policy in role.get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                assert statement["Effect"] == "Allow", statement
                assert "NotAction" not in statement and "NotResource" not in statement, statement
                assert "Condition" not in statement, statement
                for action, resource in itertools.product(as_list(statement["Action"]), as_list(statement["Resource"])):
                    granted.add((action, resource))
        return granted


NO_VALUE = object()


def as_list(value):
    return value if isinstance(value, list) else [value]


# --- What the function calls ------------------------------------------------------------

QUEUE_READ = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"]


def distribution_arn(account, distribution_id):
    return f"arn:{PARTITION}:cloudfront::{account}:distribution/{distribution_id}"


def tenant_arn(account, tenant_id):
    return f"arn:{PARTITION}:cloudfront::{account}:distribution-tenant/{tenant_id}"


def cloudfront_calls(invalidations, completion_on, discovered, account):
    """The CloudFront calls (action, resource) made for the planned invalidations, read from
    src/send/cloudfront.rs and src/discover.rs: CreateInvalidation (a tenant's:
    CreateInvalidationForDistributionTenant), with completion events GetInvalidation (a
    tenant's: GetInvalidationForDistributionTenant), and with auto ListDistributions at start-up."""
    calls = set()
    if discovered:
        calls.add(("cloudfront:ListDistributions", "*"))
    for invalidation in invalidations:
        if "tenant_id" in invalidation:
            resource = tenant_arn(account, invalidation["tenant_id"])
            actions = ["cloudfront:CreateInvalidationForDistributionTenant"]
            actions += ["cloudfront:GetInvalidationForDistributionTenant"] if completion_on else []
        else:
            resource = distribution_arn(account, invalidation["distribution_id"])
            actions = ["cloudfront:CreateInvalidation"] + (["cloudfront:GetInvalidation"] if completion_on else [])
        calls |= {(action, resource) for action in actions}
    return calls


def function_calls(deployment, invalidations):
    """Every call the function's role makes in this deployment for the planned invalidations,
    read from src/: its own CloudFront calls or sts:AssumeRole; Lambda's event source mappings
    reading its queues; SendMessage for deferred paths (DEFER_QUEUE_URL) and completion checks
    (WATCH_QUEUE_URL); PutEvents to the completion bus; Lambda's on-failure destination."""
    values, env, res = deployment.values, deployment.environment(), deployment.resources
    calls = set()
    if values.get("DistributionRoleArn"):
        calls |= {("sts:AssumeRole", inv["role_arn"]) for inv in invalidations}
    else:
        calls |= cloudfront_calls(invalidations, "COMPLETION_EVENTS" in env, values["DistributionId"] == "auto", ACCOUNT)
    for mapping in (r for r in res.values() if r["Type"] == "AWS::Lambda::EventSourceMapping"):
        calls |= {(action, mapping["Properties"]["EventSourceArn"]) for action in QUEUE_READ}
    queue_arn_by_url = {deployment.ref(n): deployment.get_att(n, "Arn") for n, r in res.items() if r["Type"] == "AWS::SQS::Queue"}
    for variable in ["DEFER_QUEUE_URL", "WATCH_QUEUE_URL"]:
        if variable in env:
            calls.add(("sqs:SendMessage", queue_arn_by_url[env[variable]]))
    if "COMPLETION_EVENTS" in env:
        bus = env["COMPLETION_EVENTS"]
        calls.add(("events:PutEvents", bus if bus.startswith("arn:") else f"arn:{PARTITION}:events:{REGION}:{ACCOUNT}:event-bus/{bus}"))
    # An asynchronous invocation that keeps failing goes to the failure queue with the role's
    # rights (Direct mode's deliveries; in Queued mode only a manual `--invocation-type Event`).
    for invoke_config in (r for r in res.values() if r["Type"] == "AWS::Lambda::EventInvokeConfig"):
        calls.add(("sqs:SendMessage", invoke_config["Properties"]["DestinationConfig"]["OnFailure"]["Destination"]))
    return calls


def allows(granted, action, resource):
    return any(action == a and fnmatch.fnmatchcase(resource, r) for a, r in granted)


# --- Running the binary -----------------------------------------------------------------

def sample(name):
    return (EVENTS / name).read_text()


def delivered_event(mode, bucket):
    """What the function receives for an upload: the new bucket's S3 notification, through
    the buffer queue or not; the existing bucket's EventBridge event, likewise."""
    if bucket == "new":
        return sample("sqs-batch.json") if mode == "Queued" else sample("s3-put.json")
    event = sample("eventbridge-created.json")
    if mode == "Direct":
        return event
    # EventBridge's rule target is the buffer queue: the event is the body of an SQS message.
    return json.dumps({"Records": [{
        "messageId": "9c1c7d8e-0000-4000-8000-000000000001", "receiptHandle": "AQEB-0",
        "body": json.dumps(json.loads(event)), "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {}, "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{STACK}-BufferQueue-ABC123", "awsRegion": REGION,
    }]})


def plan(env, event, endpoint=None):
    """`plan` on the event with exactly `env` (plus the emulator's endpoints, if any)."""
    env = dict(env)
    if endpoint:
        env.update(AWS_ENDPOINT_URL_CLOUDFRONT=endpoint, AWS_ENDPOINT_URL_STS=endpoint)
    done = subprocess.run([str(BINARY), "plan", "-"], input=event, env=env, capture_output=True, text=True, timeout=30)
    return done


class Moto:
    """moto's server on loopback, with a distribution whose origin is the bucket in the
    function's account and one in the partner's (reached through the role)."""

    def __init__(self):
        if not MOTO_SERVER.exists():
            raise AssertionError(f"{MOTO_SERVER} not found: run `make test` (it installs moto into .venv)")
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.process = subprocess.Popen([str(MOTO_SERVER), "-H", "127.0.0.1", "-p", str(port)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.endpoint = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        else:
            self.stop()
            raise AssertionError(f"moto_server did not listen on {port} within 15 s")
        import boto3
        own = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)
        self.own_distribution = self.create_distribution(own.client("cloudfront", endpoint_url=self.endpoint), "own")
        theirs = own.client("sts", endpoint_url=self.endpoint).assume_role(RoleArn=ROLE_ARN, RoleSessionName="setup")["Credentials"]
        partner = boto3.Session(aws_access_key_id=theirs["AccessKeyId"], aws_secret_access_key=theirs["SecretAccessKey"],
                                aws_session_token=theirs["SessionToken"], region_name=REGION)
        self.partner_distribution = self.create_distribution(partner.client("cloudfront", endpoint_url=self.endpoint), "partner")

    @staticmethod
    def create_distribution(client, reference):
        origin = {"Id": "site", "DomainName": f"{BUCKET}.s3.{REGION}.amazonaws.com", "OriginPath": "",
                  "S3OriginConfig": {"OriginAccessIdentity": ""}}
        config = {"CallerReference": reference, "Comment": "contract test", "Enabled": True,
                  "Origins": {"Quantity": 1, "Items": [origin]},
                  "DefaultCacheBehavior": {"TargetOriginId": "site", "ViewerProtocolPolicy": "allow-all"}}
        return client.create_distribution(DistributionConfig=config)["Distribution"]["Id"]

    def stop(self):
        self.process.kill()
        self.process.wait()


def partner_policy_in_docs():
    """docs/deployment.md's table of the partner account's policy: for each distribution
    setting and CompletionEvents, the (action, resource) pairs, with ACCOUNT, ID and
    TENANT_ID placeholders."""
    text = (ROOT / "docs/deployment.md").read_text()
    table = text.split("<!-- partner-policy -->", 2)[1]
    policies = {}
    for line in table.splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or cells[0] in ("Distribution", "") or set(cells[0]) <= set("-: "):
            continue
        distribution, completion, actions, resource = cells
        for action in actions.replace("`", "").split(","):
            policies.setdefault((distribution, completion), set()).add((action.strip(), resource))
    return policies


def documented_partner_policy(policies, distribution, completion_on, invalidation):
    kind = "tenant" if "tenant_id" in invalidation else ("auto" if distribution.endswith("auto") else "one")
    rows = policies[(kind, "on" if completion_on else "off")]
    fill = {"ACCOUNT": PARTNER_ACCOUNT, "ID": invalidation["distribution_id"], "TENANT_ID": invalidation.get("tenant_id", "")}
    return {(action, re.sub(r"\b(ACCOUNT|TENANT_ID|ID)\b", lambda m: fill[m.group(1)], resource)) for action, resource in rows}


class Contract(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not BINARY.exists():
            raise AssertionError(f"{BINARY} not found: run `cargo build` first (make test does)")
        cls.moto = Moto()

    @classmethod
    def tearDownClass(cls):
        cls.moto.stop()

    def assertExactly(self, granted, calls, what):
        """`granted` allows each call, and grants nothing no call needs."""
        for action, resource in sorted(calls):
            self.assertTrue(allows(granted, action, resource), f"{what} may not {action} on {resource}")
        needed = {g for g in granted if any(allows({g}, action, resource) for action, resource in calls)}
        self.assertEqual(granted - needed, set(), f"{what}: granted but never called")

    def test_every_combination_deploys_a_function_that_plans_and_may_make_exactly_its_calls(self):
        partner_policies = partner_policy_in_docs()
        queues_granted = set()
        checked = 0
        for mode, distribution, completion, bucket in every_combination():
            case = f"Mode={mode} distribution={distribution} CompletionEvents={completion} bucket={bucket}"
            with self.subTest(case):
                values = parameters(mode, distribution, completion, bucket)
                self.assertEqual(constraint_failures(values), [], case)
                if refused_combination(distribution, bucket):
                    self.assertTrue(refusals(values), f"{case}: the Rules must refuse it")
                    continue
                self.assertEqual(refusals(values), [], case)
                deployment = Deployment(values)
                env = deployment.environment()
                done = plan(env, delivered_event(mode, bucket), self.moto.endpoint if distribution.endswith("auto") else None)
                self.assertEqual(done.returncode, 0, f"{case}\nenvironment: {env}\nstderr: {done.stderr}")
                planned = json.loads(done.stdout)
                invalidations = planned["invalidations"]
                self.assertTrue(invalidations, f"{case}: nothing planned for the upload: {done.stdout}")
                self.assertEqual(planned["skipped"], [], case)
                self.assertEqual(planned.get("failed", []), [], case)
                # Not a word about the settings: none misspelled, none ignored.
                self.assertEqual(done.stderr, "", case)
                expected_ids = {
                    "auto": {self.moto.own_distribution},
                    "role+auto": {self.moto.partner_distribution},
                }.get(distribution, {values["DistributionId"]})
                self.assertEqual({i["distribution_id"] for i in invalidations}, expected_ids, case)
                for invalidation in invalidations:
                    self.assertEqual(invalidation.get("tenant_id"), values.get("DistributionTenantId") or None, case)
                    self.assertEqual(invalidation.get("role_arn"), values.get("DistributionRoleArn") or None, case)

                granted = deployment.grants()
                self.assertExactly(granted, function_calls(deployment, invalidations), f"{case}: the function's role")
                for action, resource in granted:
                    self.assertNotIn("*", action, case)
                    if resource == "*":
                        self.assertEqual(action, "cloudfront:ListDistributions", f"{case}: only what IAM cannot limit")
                    if "*" in resource and action != "cloudfront:ListDistributions":
                        self.assertTrue(distribution.endswith("auto") and resource == distribution_arn(ACCOUNT, "*"),
                                        f"{case}: {action} on {resource}")

                queues_granted.update(deployment.queue_names_in(granted))
                if values.get("DistributionRoleArn"):
                    partner_calls = cloudfront_calls(invalidations, completion != "off", distribution.endswith("auto"), PARTNER_ACCOUNT)
                    documented = set().union(*(documented_partner_policy(partner_policies, distribution, completion != "off", i)
                                               for i in invalidations))
                    self.assertExactly(documented, partner_calls, f"{case}: docs/deployment.md's partner policy")
                checked += 1
        self.assertEqual(checked, 2 * 3 * (6 * 2 - 2), "every combination the Rules accept was run")
        # docs/deployment.md's table of the role's rights names every queue the role may use.
        text = (ROOT / "docs/deployment.md").read_text()
        section = text.split("## What the function's role may do", 1)[1].split("\n## ", 1)[0]
        self.assertEqual({q for q in queues_granted if f"`{q}`" not in section}, set(), "queues the docs' table leaves out")

    def test_a_new_bucket_is_chosen_never_a_default(self):
        bucket = TEMPLATE["Parameters"]["BucketName"]
        self.assertNotIn("Default", bucket, "BucketName has no default: CloudFormation asks for it")
        without = parameters()
        del without["BucketName"]
        self.assertEqual(constraint_failures(without), ["BucketName: no value"])
        self.assertEqual(constraint_failures(parameters(BucketName="")), ["BucketName: pattern"])
        self.assertIn("existing bucket", bucket["ConstraintDescription"])
        self.assertEqual(TEMPLATE["Parameters"]["NewBucket"]["Default"], "false")
        existing = Deployment(parameters(bucket="existing")).resources
        self.assertNotIn("SiteBucket", existing)
        self.assertIn("ExistingBucketChanges", existing)
        new = Deployment(parameters(bucket="new")).resources
        self.assertEqual(new["SiteBucket"]["Properties"]["BucketName"], BUCKET)
        self.assertNotIn("ExistingBucketChanges", new)
        for distribution in ["auto", "role+auto"]:
            self.assertIn("NewBucket", " ".join(refusals(parameters(distribution=distribution, bucket="new"))))

    def test_template_defaults_are_the_binarys(self):
        """A setting the template passes at its default plans what the binary plans without it."""
        deployment = Deployment(parameters(mode="Direct"))
        env = deployment.environment()
        bare = {k: v for k, v in env.items() if k not in deployment.function()["Environment"]["Variables"]}
        bare.update(DISTRIBUTION_ID=env["DISTRIBUTION_ID"], SOURCE_BUCKET=env["SOURCE_BUCKET"])
        for name in ["s3-several-records.json", "s3-site-release.json", "s3-special-keys.json"]:
            with_template, without = plan(env, sample(name)), plan(bare, sample(name))
            self.assertEqual(with_template.returncode, 0, with_template.stderr)
            self.assertEqual(without.returncode, 0, without.stderr)
            self.assertEqual(json.loads(with_template.stdout), json.loads(without.stdout),
                             f"{name}: the template's defaults {sorted(set(env) - set(bare))} change the plan")


class IndexDocument(unittest.TestCase):
    def test_empty_turns_it_off_and_the_default_is_on(self):
        event = sample("s3-several-records.json")
        paths = {}
        for value in ["index.html", ""]:
            env = Deployment(parameters(mode="Direct", IndexDocument=value)).environment()
            done = plan(env, event)
            self.assertEqual(done.returncode, 0, done.stderr)
            paths[value] = {p for i in json.loads(done.stdout)["invalidations"] for p in i["paths"]}
        self.assertIn("/about/", paths["index.html"])
        self.assertNotIn("/about/", paths[""])
        self.assertEqual({p for p in paths["index.html"] if not p.endswith("/") and p.rsplit("/", 1)[-1] != "about"} - paths[""], set())


class Outputs(unittest.TestCase):
    def test_every_output_the_docs_name_exists(self):
        outputs = set(TEMPLATE["Outputs"])
        named = set()
        for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
            text = doc.read_text()
            named |= set(re.findall(r"OutputKey==[`'\"]?(\w+)", text))
            named |= set(re.findall(r"`(\w+)` output", text))
            named |= set(re.findall(r"output `(\w+)`", text))
            named |= set(re.findall(r"\$\(out (\w+)\)", text))
        self.assertTrue(named, "the docs name the outputs they use")
        self.assertLessEqual(named, outputs)

    def test_the_docs_list_every_output(self):
        text = (ROOT / "docs/deployment.md").read_text()
        table = text.split("<!-- outputs -->", 2)[1]
        listed = set(re.findall(r"^\| `(\w+)` \|", table, re.M))
        self.assertEqual(listed, set(TEMPLATE["Outputs"]))
        for name, output in TEMPLATE["Outputs"].items():
            self.assertTrue(output.get("Description"), name)


def code_block_after(path, marker):
    """The shell block that follows `<!-- marker -->` in a document."""
    text = (ROOT / path).read_text()
    after = text.split(f"<!-- {marker} -->", 1)[1]
    return re.search(r"```sh\n(.*?)```", after, re.S).group(1)


# An AWS CLI stand-in: prints the bucket's configuration for `get-…`, records what `put-…` got.
FAKE_AWS = """#!/bin/sh
case "$2" in
  get-bucket-notification-configuration) cat "$FAKE_AWS_CONFIG" ;;
  put-bucket-notification-configuration)
    for arg; do case "$arg" in file://*) cp "${arg#file://}" "$FAKE_AWS_PUT" ;; esac; done ;;
  *) echo "unexpected: $*" >&2; exit 2 ;;
esac
"""


class Docs(unittest.TestCase):
    EXISTING = {"QueueConfigurations": [{"Id": "thumbnails", "QueueArn": "arn:aws:sqs:eu-west-1:123456789012:thumbs",
                                         "Events": ["s3:ObjectCreated:*"]}],
                "TopicConfigurations": [{"TopicArn": "arn:aws:sns:eu-west-1:123456789012:audit", "Events": ["s3:ObjectRemoved:*"]}]}

    def merged(self, script, existing):
        """Runs the documented commands with the AWS CLI stand-in; what was put."""
        import tempfile
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            (tmp / "aws").write_text(FAKE_AWS)
            (tmp / "aws").chmod(0o755)
            # A bucket without notifications: the CLI prints nothing at all.
            (tmp / "config.json").write_text("" if existing is None else json.dumps(existing, indent=4))
            env = {**os.environ, "PATH": f"{tmp}:{os.environ['PATH']}",
                   "FAKE_AWS_CONFIG": str(tmp / "config.json"), "FAKE_AWS_PUT": str(tmp / "put.json")}
            done = subprocess.run(["sh", "-e", "-c", script], cwd=tmp, env=env, capture_output=True, text=True, timeout=30)
            self.assertEqual(done.returncode, 0, done.stderr)
            return json.loads((tmp / "put.json").read_text())

    def test_turning_on_eventbridge_keeps_every_other_notification(self):
        import shutil
        scripts = {"python": code_block_after("docs/deployment.md", "eventbridge-merge-python")}
        if shutil.which("jq"):
            scripts["jq"] = code_block_after("docs/deployment.md", "eventbridge-merge-jq")
        readme = (ROOT / "README.md").read_text()
        for name, script in scripts.items():
            with self.subTest(name):
                self.assertEqual(self.merged(script, None), {"EventBridgeConfiguration": {}})
                self.assertEqual(self.merged(script, {}), {"EventBridgeConfiguration": {}})
                self.assertEqual(self.merged(script, self.EXISTING), {**self.EXISTING, "EventBridgeConfiguration": {}})
                already = {**self.EXISTING, "EventBridgeConfiguration": {}}
                self.assertEqual(self.merged(script, already), already)
                # The README's quick start shows the same commands.
                for line in script.strip().splitlines():
                    if not line.startswith("BUCKET="):
                        self.assertIn(line.strip().rstrip("\\").strip(), readme.replace("\n  ", " "), name)

    def test_every_documented_parameter_override_is_a_parameter(self):
        named = set()
        for doc in [ROOT / "README.md", ROOT / "samconfig.toml.example", *sorted((ROOT / "docs").glob("*.md"))]:
            for overrides in re.findall(r"(?:--parameter-overrides|parameter_overrides =)\s+\"?([^\n\"]+)", doc.read_text()):
                named |= set(re.findall(r"([A-Za-z]+)=", overrides))
        self.assertTrue({"DistributionId", "BucketName"} <= named, named)
        self.assertLessEqual(named, set(TEMPLATE["Parameters"]))

    def test_the_samconfig_example_deploys_what_the_template_requires(self):
        import tomllib
        config = tomllib.loads((ROOT / "samconfig.toml.example").read_text())
        deploy = config["default"]["deploy"]["parameters"]
        self.assertEqual(deploy["capabilities"], "CAPABILITY_IAM")
        self.assertTrue(deploy["resolve_s3"])
        given = dict(pair.split("=", 1) for pair in deploy["parameter_overrides"].split())
        required = {name for name, p in TEMPLATE["Parameters"].items() if "Default" not in p}
        self.assertLessEqual(required, set(given))
        self.assertEqual(constraint_failures(parameters(**given)), [])
        self.assertEqual(refusals(parameters(**given)), [])
        shown = re.search(r"```toml\n(.*?)```", (ROOT / "README.md").read_text(), re.S).group(1)
        self.assertEqual(tomllib.loads(shown), config, "the README shows the example")

    def test_links_between_the_docs_resolve(self):
        def slug(heading):
            heading = re.sub(r"[`*_]", "", heading.strip().lower())
            return re.sub(r"[^a-z0-9 -]", "", heading).replace(" ", "-")
        def prose(doc):
            # Code blocks hold neither headings nor links.
            return re.sub(r"```.*?```", "", doc.read_text(), flags=re.S)
        docs = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
        anchors = {doc.resolve(): {slug(h) for h in re.findall(r"^#+ (.+)$", prose(doc), re.M)} for doc in docs}
        broken = []
        for doc in docs:
            text = prose(doc)
            for target in re.findall(r"\]\(([^)\s]+)\)", text):
                if re.match(r"[a-z]+:", target):
                    continue
                file, _, anchor = target.partition("#")
                path = (doc.parent / file).resolve() if file else doc.resolve()
                if not path.exists() or (anchor and anchor not in anchors.get(path, set())):
                    broken.append(f"{doc.relative_to(ROOT)}: {target}")
        self.assertEqual(broken, [])

    def test_the_readme_fits_in_400_lines(self):
        self.assertLessEqual(len((ROOT / "README.md").read_text().splitlines()), 400)


if __name__ == "__main__":
    unittest.main()
