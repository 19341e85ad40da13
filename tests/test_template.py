"""Checks of template.yaml that cfn-lint and `sam validate --lint` do not make.

Linters accept a misspelt runtime or a role that can do too much; these tests read the
template, expand it with the SAM translator (as `sam deploy` would), and assert the
properties the function relies on. What the function's role may do in each combination of
settings, and whether the binary accepts what the template gives it, is tests/test_contract.py.

Run with the SAM venv's Python: .venv-sam/bin/python -m unittest tests/test_template.py
"""
import copy
import itertools
import json
import os
import re
import unittest
from pathlib import Path

from cfnlint.decode import decode_str
from samtranslator.translator.transform import transform

from tests import test_contract as contract

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = json.loads(json.dumps(decode_str((ROOT / "template.yaml").read_text())[0]))
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

BASIC_LOGGING = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"


class ManagedPolicies:
    def load(self):
        return {"AWSLambdaBasicExecutionRole": BASIC_LOGGING}


def expanded():
    template = copy.deepcopy(TEMPLATE)
    # The translator wants an uploaded artefact, as after `sam package`.
    template["Resources"]["InvalidatorFunction"]["Properties"]["CodeUri"] = "s3://artefacts/bootstrap.zip"
    return transform(template, {}, ManagedPolicies())


# The distribution settings by the names these tests use, and those of the contract test.
DISTRIBUTIONS = {"one": "own", "tenant": "tenant", "discover": "auto", "role": "role",
                 "role+tenant": "role+tenant", "role+discover": "role+auto"}

# CompletionEvents: off, a bus name, or a bus ARN.
COMPLETION_EVENTS = ["off", "site-events", "arn:aws:events:eu-west-1:123456789012:event-bus/site-events"]


def conditions(mode, existing_bucket, distribution="one", completion_events="off"):
    """The template's Conditions, evaluated for one combination of parameter values."""
    values = contract.parameters(mode, DISTRIBUTIONS[distribution], completion_events,
                                 "existing" if existing_bucket else "new")
    return contract.Resolver(TEMPLATE, values).conditions


def resolve(value, truth):
    """Evaluates Fn::If for one combination of conditions; drops AWS::NoValue."""
    if isinstance(value, dict):
        if set(value) == {"Fn::If"}:
            name, yes, no = value["Fn::If"]
            return resolve(yes if truth[name] else no, truth)
        out = {k: resolve(v, truth) for k, v in value.items()}
        return {k: v for k, v in out.items() if v != {"Ref": "AWS::NoValue"}}
    if isinstance(value, list):
        return [resolve(v, truth) for v in value if resolve(v, truth) != {"Ref": "AWS::NoValue"}]
    return value


def resources(template, truth):
    return {
        name: resolve(resource, truth)
        for name, resource in template["Resources"].items()
        if truth.get(resource.get("Condition"), True)
    }


def as_list(value):
    return value if isinstance(value, list) else [value]


class FunctionProperties(unittest.TestCase):
    def test_function_is_a_rust_arm64_al2023_function(self):
        function = TEMPLATE["Resources"]["InvalidatorFunction"]
        props = function["Properties"]
        self.assertEqual(function["Type"], "AWS::Serverless::Function")
        self.assertEqual(function["Metadata"]["BuildMethod"], "rust-cargolambda")
        self.assertEqual(props["Runtime"], "provided.al2023")
        self.assertEqual(props["Handler"], "bootstrap")
        self.assertEqual(props["Architectures"], ["arm64"])
        self.assertEqual(props["MemorySize"], 128)
        self.assertGreaterEqual(props["Timeout"], 30, "room for backoff")
        self.assertEqual(props["LoggingConfig"]["LogFormat"], "JSON")
        self.assertEqual(props["Environment"]["Variables"]["DISTRIBUTION_ID"], {"Ref": "DistributionId"})

    def test_parameters_a_user_needs(self):
        for name in ["DistributionId", "BucketName", "NewBucket", "KeyPrefix", "PathPrefix", "IndexDocument", "LogLevel",
                     "Mode", "BatchSize", "BatchingWindowSeconds", "MaximumConcurrency", "AlarmTopicArn",
                     "LogRetentionDays", "DistributionTenantId", "DistributionRoleArn", "DistributionExternalId",
                     "SkipKeys", "CleanUrls", "QueryStrings", "CompletionEvents"]:
            self.assertIn(name, TEMPLATE["Parameters"])
        self.assertEqual(TEMPLATE["Parameters"]["Mode"]["AllowedValues"], ["Queued", "Direct"])

    def test_failures_are_never_dropped(self):
        props = TEMPLATE["Resources"]["InvalidatorFunction"]["Properties"]
        on_failure = props["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]
        self.assertEqual(on_failure, {"Type": "SQS", "Destination": {"Fn::GetAtt": ["FailureQueue", "Arn"]}})
        redrive = TEMPLATE["Resources"]["BufferQueue"]["Properties"]["RedrivePolicy"]
        self.assertEqual(redrive["deadLetterTargetArn"], {"Fn::GetAtt": ["FailureQueue", "Arn"]})
        visibility = TEMPLATE["Resources"]["BufferQueue"]["Properties"]["VisibilityTimeout"]
        self.assertGreaterEqual(visibility, 6 * props["Timeout"] + 300)

    def test_queued_mode_reports_batch_item_failures(self):
        mapping = TEMPLATE["Resources"]["QueueToFunction"]["Properties"]
        self.assertEqual(mapping["FunctionResponseTypes"], ["ReportBatchItemFailures"])
        self.assertEqual(mapping["BatchSize"], {"Ref": "BatchSize"})
        self.assertEqual(mapping["MaximumBatchingWindowInSeconds"], {"Ref": "BatchingWindowSeconds"})

    def test_new_bucket_notifies_created_and_removed_objects(self):
        for mode, key, target in [("Queued", "QueueConfigurations", "Queue"), ("Direct", "LambdaConfigurations", "Function")]:
            bucket = resources(TEMPLATE, conditions(mode, False))["SiteBucket"]
            notifications = bucket["Properties"]["NotificationConfiguration"]
            self.assertEqual(sorted(n["Event"] for n in notifications[key]), ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"])
            self.assertEqual(len(notifications), 1, mode)

    def test_existing_bucket_is_routed_through_eventbridge(self):
        rule = resources(TEMPLATE, conditions("Queued", True))["ExistingBucketChanges"]
        pattern = rule["Properties"]["EventPattern"]
        self.assertEqual(pattern["source"], ["aws.s3"])
        self.assertEqual(pattern["detail-type"], ["Object Created", "Object Deleted"])
        self.assertEqual(pattern["detail"], {"bucket": {"name": [{"Ref": "BucketName"}]}}, "no empty prefix filter")

    def test_each_option_reaches_its_variable_only_when_set(self):
        expected = {
            "TENANT_ID": ("HasTenant", "DistributionTenantId"),
            "ROLE_ARN": ("HasRole", "DistributionRoleArn"),
            "EXTERNAL_ID": ("HasExternalId", "DistributionExternalId"),
            "SKIP_KEYS": ("HasSkipKeys", "SkipKeys"),
        }
        variables = TEMPLATE["Resources"]["InvalidatorFunction"]["Properties"]["Environment"]["Variables"]
        for variable, (condition, parameter) in expected.items():
            self.assertEqual(variables[variable], {"Fn::If": [condition, {"Ref": parameter}, {"Ref": "AWS::NoValue"}]})
            self.assertEqual(TEMPLATE["Parameters"][parameter]["Default"], "", parameter)
        self.assertEqual(variables["CLEAN_URLS"], {"Ref": "CleanUrls"})
        self.assertEqual(variables["QUERY_STRINGS"], {"Ref": "QueryStrings"})
        for flag in ["CleanUrls", "QueryStrings"]:
            self.assertEqual(TEMPLATE["Parameters"][flag]["Default"], "false")
        self.assertIn("auto", TEMPLATE["Parameters"]["DistributionId"]["AllowedPattern"])

    def test_every_parameter_is_in_one_console_group_and_has_a_label(self):
        # A new parameter fails here until it is placed in a group of the console's form.
        interface = TEMPLATE["Metadata"]["AWS::CloudFormation::Interface"]
        parameters = set(TEMPLATE["Parameters"])
        grouped = [name for group in interface["ParameterGroups"] for name in group["Parameters"]]
        for group in interface["ParameterGroups"]:
            self.assertEqual(list(group["Label"]), ["default"], group)
            self.assertTrue(group["Label"]["default"].strip(), group)
        self.assertEqual(sorted(grouped), sorted(set(grouped)), "a parameter in two groups")
        self.assertEqual(set(grouped), parameters, "put each parameter in one of Metadata's AWS::CloudFormation::Interface ParameterGroups")
        labels = interface["ParameterLabels"]
        self.assertEqual(set(labels), parameters, "give each parameter a ParameterLabels entry in Metadata's AWS::CloudFormation::Interface")
        for name, label in labels.items():
            self.assertEqual(list(label), ["default"], name)
            self.assertTrue(label["default"].strip(), name)

    def test_metrics_can_be_turned_off_and_are_on_by_default(self):
        parameter = TEMPLATE["Parameters"]["Metrics"]
        self.assertEqual((parameter["Default"], parameter["AllowedValues"]), ("true", ["true", "false"]))
        variables = TEMPLATE["Resources"]["InvalidatorFunction"]["Properties"]["Environment"]["Variables"]
        self.assertEqual(variables["METRICS"], {"Ref": "Metrics"})

    def test_alarms_and_log_retention(self):
        res = TEMPLATE["Resources"]
        self.assertEqual(res["FailuresWaiting"]["Properties"]["Dimensions"][0]["Value"], {"Fn::GetAtt": ["FailureQueue", "QueueName"]})
        self.assertEqual(res["FunctionErrors"]["Properties"]["MetricName"], "Errors")
        self.assertEqual(res["FunctionLogGroup"]["Properties"]["RetentionInDays"], {"Ref": "LogRetentionDays"})


CLOUDFRONT_WILDCARDS_IN_PROGRESS = 15


evaluate_rule = contract.evaluate_rule


def rule_refs(value):
    if isinstance(value, dict):
        if set(value) == {"Ref"}:
            yield value["Ref"]
        for v in value.values():
            yield from rule_refs(v)
    elif isinstance(value, list):
        for v in value:
            yield from rule_refs(v)


class BulkDeploys(unittest.TestCase):
    """Queued mode's concurrency cap keeps wildcards within CloudFront's limit, and the
    template refuses a batch Lambda would refuse, before creating anything."""

    def test_queued_mode_defers_to_its_own_work_queue(self):
        template = expanded()
        for mode in ["Queued", "Direct"]:
            res = resources(template, conditions(mode, False))
            variables = res["InvalidatorFunction"]["Properties"]["Environment"]["Variables"]
            if mode == "Queued":
                self.assertEqual(variables["DEFER_QUEUE_URL"], {"Ref": "WorkQueue"})
            else:
                self.assertNotIn("DEFER_QUEUE_URL", variables)

    def test_queued_mode_caps_concurrency_with_the_parameter(self):
        parameter = TEMPLATE["Parameters"]["MaximumConcurrency"]
        self.assertIn(parameter["Default"], parameter["AllowedValues"])
        for value in parameter["AllowedValues"]:
            self.assertTrue(2 <= int(value) <= 1000, "CloudFormation's range for MaximumConcurrency")
        template = expanded()
        queued = resources(template, conditions("Queued", False))
        mapping = queued["QueueToFunction"]["Properties"]
        self.assertEqual(mapping["ScalingConfig"], {"MaximumConcurrency": {"Ref": "MaximumConcurrency"}})
        variables = queued["InvalidatorFunction"]["Properties"]["Environment"]["Variables"]
        self.assertEqual(variables["WILDCARD_BUDGET"],
                         {"Fn::FindInMap": ["WildcardBudget", {"Ref": "MaximumConcurrency"}, "PerInvocation"]})
        for existing in [False, True]:
            direct = resources(template, conditions("Direct", existing))
            self.assertNotIn("QueueToFunction", direct)
            variables = direct["InvalidatorFunction"]["Properties"]["Environment"]["Variables"]
            self.assertNotIn("WILDCARD_BUDGET", variables, "Direct mode keeps the function's default")

    def test_concurrent_invocations_stay_within_the_wildcards_in_progress(self):
        allowed = [int(v) for v in TEMPLATE["Parameters"]["MaximumConcurrency"]["AllowedValues"]]
        budgets = TEMPLATE["Mappings"]["WildcardBudget"]
        self.assertEqual(sorted(int(k) for k in budgets), sorted(allowed), "one row for every allowed value")
        for concurrency in allowed:
            budget = int(budgets[str(concurrency)]["PerInvocation"])
            self.assertTrue(1 <= budget <= 15, "WILDCARD_BUDGET's range, and a wildcard the keys need is sent")
            self.assertLessEqual(concurrency * budget, CLOUDFRONT_WILDCARDS_IN_PROGRESS, concurrency)
            # Nothing wasted: one more wildcard each, or one more invocation, would exceed it.
            self.assertGreater(concurrency * (budget + 1), CLOUDFRONT_WILDCARDS_IN_PROGRESS, concurrency)
            self.assertGreater((concurrency + 1) * budget, CLOUDFRONT_WILDCARDS_IN_PROGRESS, concurrency)

    def test_batch_size_and_window_have_lambdas_ranges(self):
        params = TEMPLATE["Parameters"]
        self.assertEqual((params["BatchSize"]["MinValue"], params["BatchSize"]["MaxValue"]), (1, 10000))
        self.assertEqual((params["BatchingWindowSeconds"]["MinValue"], params["BatchingWindowSeconds"]["MaxValue"]), (0, 300))

    def test_a_large_batch_without_a_window_is_refused_at_deploy(self):
        rule = TEMPLATE["Rules"]["LargeBatchesNeedABatchingWindow"]
        self.assertLessEqual(set(rule_refs(rule)), set(TEMPLATE["Parameters"]), "a rule may refer to parameters only")
        self.assertEqual(len(rule["Assertions"]), 1)
        self.assertIn("BatchSize above 10 needs BatchingWindowSeconds of at least 1", rule["Assertions"][0]["AssertDescription"])
        defaults = {name: p.get("Default") for name, p in TEMPLATE["Parameters"].items()}
        for mode, size, window in itertools.product(["Queued", "Direct"], [1, 2, 10, 11, 3000, 10000], [0, 1, 30, 300]):
            parameters = {**defaults, "Mode": mode, "BatchSize": size, "BatchingWindowSeconds": window}
            applies = evaluate_rule(rule.get("RuleCondition", True), parameters)
            accepted = not applies or all(evaluate_rule(a["Assert"], parameters) for a in rule["Assertions"])
            refused = mode == "Queued" and size > 10 and window == 0
            self.assertEqual(accepted, not refused, (mode, size, window))
        self.assertTrue(evaluate_rule(rule["Assertions"][0]["Assert"], defaults), "the defaults deploy")


class DistributionRules(unittest.TestCase):
    """The template refuses, before creating anything, what the function would refuse at
    start-up: auto on a new bucket, or with a key prefix or a tenant; an external id without
    a role."""

    def accepted(self, **overrides):
        for rule in TEMPLATE["Rules"].values():
            self.assertLessEqual(set(rule_refs(rule)), set(TEMPLATE["Parameters"]))
        return not contract.refusals(contract.parameters(**overrides))

    def test_only_consistent_distribution_settings_deploy(self):
        self.assertTrue(self.accepted())
        self.assertTrue(self.accepted(DistributionId="auto"))
        self.assertFalse(self.accepted(DistributionId="auto", NewBucket="true"))
        self.assertFalse(self.accepted(DistributionId="auto", KeyPrefix="site/"))
        self.assertFalse(self.accepted(DistributionId="auto", DistributionTenantId="dt_1"))
        self.assertTrue(self.accepted(DistributionTenantId="dt_1"))
        self.assertTrue(self.accepted(NewBucket="true"))
        role = "arn:aws:iam::111122223333:role/site-invalidator"
        self.assertTrue(self.accepted(DistributionRoleArn=role, DistributionExternalId="site-4f1c"))
        self.assertFalse(self.accepted(DistributionExternalId="site-4f1c"))


class CompletionEvents(unittest.TestCase):
    """Completion checks wait in the buffer queue (Queued) or a watch queue of their own with
    its dead-letter queue and alarm (Direct), only when the parameter names a bus."""

    def test_the_parameter_takes_off_a_bus_name_or_a_bus_arn_and_nothing_the_function_refuses(self):
        parameter = TEMPLATE["Parameters"]["CompletionEvents"]
        self.assertEqual(parameter["Default"], "off")
        pattern = re.compile(parameter["AllowedPattern"])
        for accepted in COMPLETION_EVENTS + ["default", "a.b-c_d/e", "arn:aws-cn:events:cn-north-1:123456789012:event-bus/x"]:
            self.assertTrue(pattern.match(accepted), accepted)
        for refused in ["", "Off", "OFF", "on", "true", "Yes", "no", "0", "my bus", "x" * 257,
                        "arn:aws:events:eu-west-1:1234:event-bus/x", "arn:aws:sqs:eu-west-1:123456789012:q"]:
            self.assertFalse(pattern.match(refused), refused)

    def test_the_function_is_told_the_bus_and_the_queue_checks_wait_in(self):
        template = expanded()
        for mode, bus in itertools.product(["Queued", "Direct"], COMPLETION_EVENTS):
            variables = resources(template, conditions(mode, False, completion_events=bus))["InvalidatorFunction"]["Properties"]["Environment"]["Variables"]
            if bus == "off":
                self.assertNotIn("COMPLETION_EVENTS", variables, mode)
                self.assertNotIn("WATCH_QUEUE_URL", variables, mode)
                continue
            self.assertEqual(variables["COMPLETION_EVENTS"], {"Ref": "CompletionEvents"})
            self.assertEqual(variables["WATCH_QUEUE_URL"], {"Ref": "WorkQueue"}, (mode, bus))

    def test_a_work_queue_invokes_the_function_and_never_drops_work(self):
        template = expanded()
        work_resources = {"WorkQueue", "WorkQueuePolicy", "WorkDeadLetterQueue", "WorkQueueToFunction", "WorkFailing"}
        for mode, bus in itertools.product(["Queued", "Direct"], COMPLETION_EVENTS):
            res = resources(template, conditions(mode, False, completion_events=bus))
            variables = res["InvalidatorFunction"]["Properties"]["Environment"]["Variables"]
            if mode == "Direct" and bus == "off":
                self.assertFalse(work_resources & set(res), (mode, bus))
                self.assertNotIn("WORK_QUEUE_ARN", variables)
                continue
            self.assertLessEqual(work_resources, set(res))
            self.assertEqual(variables["WORK_QUEUE_ARN"], {"Fn::GetAtt": ["WorkQueue", "Arn"]})
            queue = res["WorkQueue"]["Properties"]
            timeout = TEMPLATE["Resources"]["InvalidatorFunction"]["Properties"]["Timeout"]
            self.assertGreaterEqual(queue["VisibilityTimeout"], 6 * timeout)
            self.assertEqual(queue["RedrivePolicy"]["deadLetterTargetArn"], {"Fn::GetAtt": ["WorkDeadLetterQueue", "Arn"]})
            mapping = res["WorkQueueToFunction"]["Properties"]
            self.assertEqual(mapping["EventSourceArn"], {"Fn::GetAtt": ["WorkQueue", "Arn"]})
            self.assertEqual(mapping["FunctionResponseTypes"], ["ReportBatchItemFailures"])
            self.assertLessEqual(mapping["BatchSize"], 10, "no batching window needed")
            alarm = res["WorkFailing"]["Properties"]
            self.assertEqual(alarm["Dimensions"][0]["Value"], {"Fn::GetAtt": ["WorkDeadLetterQueue", "QueueName"]})


class CheckovSkips(unittest.TestCase):
    def test_every_skip_is_one_check_with_a_one_line_reason(self):
        skipped = 0
        for name, resource in TEMPLATE["Resources"].items():
            for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
                self.assertRegex(skip["id"], r"^CKV_AWS_\d+$", name)
                self.assertTrue(skip["comment"].strip() and "\n" not in skip["comment"], (name, skip["id"]))
                skipped += 1
        self.assertGreater(skipped, 0)


class LeastPrivilege(unittest.TestCase):
    """Who may invoke the function or write to its queues. What the function's own role may
    do, in every combination of settings, is the contract test's (tests/test_contract.py)."""

    def test_only_the_stacks_own_bucket_or_rule_may_invoke_or_enqueue(self):
        template = expanded()
        bucket_arn = json.dumps(TEMPLATE["Resources"]["BucketInvokesFunction"]["Properties"]["SourceArn"])
        self.assertEqual(json.loads(bucket_arn), {"Fn::Sub": "arn:${AWS::Partition}:s3:::${BucketName}"})
        rule_arn = {"Fn::GetAtt": ["ExistingBucketChanges", "Arn"]}
        for mode, existing, bus in itertools.product(["Queued", "Direct"], [False, True], COMPLETION_EVENTS):
            case = (mode, existing, bus)
            res = resources(template, conditions(mode, existing, completion_events=bus))
            for name, r in res.items():
                if r["Type"] == "AWS::Lambda::Permission":
                    props = r["Properties"]
                    self.assertIn(props["Principal"], ["s3.amazonaws.com", "events.amazonaws.com"], name)
                    expected = rule_arn if existing else json.loads(bucket_arn)
                    self.assertEqual(props["SourceArn"], expected, case)
            if mode == "Queued":
                [statement] = res["BufferQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
                self.assertEqual((statement["Effect"], statement["Action"]), ("Allow", "sqs:SendMessage"))
                if existing:
                    self.assertEqual(statement["Principal"], {"Service": "events.amazonaws.com"})
                    self.assertEqual(statement["Condition"], {"ArnEquals": {"aws:SourceArn": rule_arn}})
                else:
                    self.assertEqual(statement["Principal"], {"Service": "s3.amazonaws.com"})
                    self.assertEqual(statement["Condition"]["ArnEquals"], {"aws:SourceArn": json.loads(bucket_arn)})
            if mode == "Queued" or bus != "off":
                [deny] = res["WorkQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
                self.assertEqual((deny["Effect"], deny["Principal"], deny["Action"]), ("Deny", "*", "sqs:SendMessage"), case)
                self.assertEqual(deny["Condition"], {"ArnNotEquals": {"aws:PrincipalArn": {"Fn::GetAtt": ["InvalidatorFunctionRole", "Arn"]}}})
            # The role the policy names is the function's, as SAM expands it.
            self.assertIn("InvalidatorFunctionRole", res)

    def test_the_function_accepts_changes_of_its_bucket_only_in_every_mode(self):
        for mode, existing in itertools.product(["Queued", "Direct"], [False, True]):
            res = resources(TEMPLATE, conditions(mode, existing))
            variables = res["InvalidatorFunction"]["Properties"]["Environment"]["Variables"]
            self.assertEqual(variables["SOURCE_BUCKET"], {"Ref": "BucketName"}, (mode, existing))
            if not existing:
                self.assertEqual(res["SiteBucket"]["Properties"]["BucketName"], {"Ref": "BucketName"})


class CostGuard(unittest.TestCase):
    def test_the_ceiling_reaches_the_function_and_a_day_of_billed_paths_alarms(self):
        variables = TEMPLATE["Resources"]["InvalidatorFunction"]["Properties"]["Environment"]["Variables"]
        self.assertEqual(variables["MAX_BILLED_PATHS"], {"Ref": "MaxBilledPaths"})
        self.assertEqual(TEMPLATE["Parameters"]["MaxBilledPaths"]["Default"], 1000)
        alarm = TEMPLATE["Resources"]["BilledPathsHigh"]["Properties"]
        self.assertEqual((alarm["Namespace"], alarm["MetricName"]), ("S3CloudFrontInvalidator", "BilledPaths"))
        self.assertEqual(alarm["Dimensions"], [{"Name": "FunctionName", "Value": {"Ref": "InvalidatorFunction"}}])
        self.assertEqual((alarm["Statistic"], alarm["Period"]), ("Sum", 86400))
        self.assertEqual(alarm["Threshold"], {"Ref": "DailyBilledPathsAlarm"})

if __name__ == "__main__":
    unittest.main()
