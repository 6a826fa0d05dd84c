"""Deploys the rendered template on moto's CloudFormation with real parameter values.

moto's CloudFormation does not implement AWS::Lambda::Url, AWS::SNS::Subscription and
AWS::CloudWatch::Alarm (it skips them, and crashes on an output that reads one), so those
resources are taken out of the stack and created afterwards through their own APIs, with
their properties resolved against the deployed stack exactly as CloudFormation would (Ref,
Fn::GetAtt, Fn::Sub, Fn::If, Fn::Join and the template's conditions). Everything else is
created by moto's CloudFormation itself.
"""
import copy
import io
import json
import re
import time
import zipfile

from render import CODE_BUCKET, CODE_KEY, render

# Types moto's CloudFormation skips; created by `_provision` through their service APIs.
NOT_IN_MOTO_CFN = ("AWS::Lambda::Url", "AWS::SNS::Subscription", "AWS::CloudWatch::Alarm")
STACK = "dyn53"
ACCOUNT = "123456789012"
REGION = "us-east-1"


def _mentions(value, names):
    """Whether a template value refers (Ref, GetAtt or ${} in Sub) to one of `names`."""
    text = json.dumps(value)
    return any(
        f'"Ref": "{n}"' in text or f'"{n}"' in text or "${" + n in text for n in names
    )


class Resolver:
    """CloudFormation's intrinsic functions over a deployed stack."""

    def __init__(self, template, params, physical, attrs):
        self.params = {k: v.get("Default") for k, v in template.get("Parameters", {}).items()}
        self.params.update(params)
        self.physical = physical
        self.attrs = attrs
        self.conditions_src = template.get("Conditions", {})
        self.conditions = {}

    def _ref(self, name):
        pseudo = {"AWS::StackName": STACK, "AWS::Region": REGION, "AWS::AccountId": ACCOUNT,
                  "AWS::Partition": "aws"}
        if name in pseudo:
            return pseudo[name]
        if name in self.params:
            return self.params[name]
        return self.physical[name]

    def condition(self, name):
        if name not in self.conditions:
            self.conditions[name] = bool(self.resolve(self.conditions_src[name]))
        return self.conditions[name]

    def resolve(self, v):
        if isinstance(v, list):
            out = [self.resolve(x) for x in v]
            return [x for x in out if x is not _NO_VALUE]
        if not isinstance(v, dict):
            return v
        if len(v) == 1:
            (k, a), = v.items()
            if k == "Ref":
                return _NO_VALUE if a == "AWS::NoValue" else self._ref(a)
            if k == "Fn::GetAtt":
                return self.attrs[tuple(a if isinstance(a, list) else a.split(".", 1))]
            if k == "Fn::Sub":
                text, extra = (a, {}) if isinstance(a, str) else (a[0], self.resolve(a[1]))
                return re.sub(
                    r"\$\{([^}]+)\}",
                    lambda m: str(extra[m.group(1)] if m.group(1) in extra else
                                  self.attrs[tuple(m.group(1).split(".", 1))] if "." in m.group(1)
                                  and not m.group(1).startswith("AWS::") else self._ref(m.group(1))),
                    text,
                )
            if k == "Fn::Join":
                parts = self.resolve(a[1])
                return a[0].join(parts if isinstance(parts, list) else parts.split(","))
            if k == "Fn::Split":
                return self.resolve(a[1]).split(a[0])
            if k == "Fn::If":
                return self.resolve(a[1] if self.condition(a[0]) else a[2])
            if k == "Fn::Equals":
                x, y = self.resolve(a[0]), self.resolve(a[1])
                return str(x) == str(y)
            if k == "Fn::Not":
                return not self.resolve(a[0])
            if k == "Condition":
                return self.condition(a)
        return {k: self.resolve(x) for k, x in v.items() if self.resolve(x) is not _NO_VALUE}


_NO_VALUE = object()


def code_zip():
    """The function bundle. moto's Lambda stores but never runs it (no container runtime
    here); the least-privilege check runs the real binary under the function's policy."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("bootstrap", "#!/bin/sh\nexec ./dyn53-backend lambda\n")
    return buf.getvalue()


def deploy(moto, params):
    """Creates the stack; returns (rendered template, resolver, {logical id: physical id})."""
    template = render(REGION)
    s3 = moto.client("s3")
    s3.create_bucket(Bucket=CODE_BUCKET)
    s3.put_object(Bucket=CODE_BUCKET, Key=CODE_KEY, Body=code_zip())

    stack_t = copy.deepcopy(template)
    held = {k: v for k, v in template["Resources"].items() if v["Type"] in NOT_IN_MOTO_CFN}
    for k in held:
        del stack_t["Resources"][k]
    stack_t["Outputs"] = {k: v for k, v in template["Outputs"].items()
                          if not _mentions(v["Value"], held)}
    cf = moto.client("cloudformation")
    cf.create_stack(
        StackName=STACK,
        TemplateBody=json.dumps(stack_t),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
        Capabilities=["CAPABILITY_IAM"],
    )
    for _ in range(100):
        stack = cf.describe_stacks(StackName=STACK)["Stacks"][0]
        if not stack["StackStatus"].endswith("_IN_PROGRESS"):
            break
        time.sleep(0.2)
    if stack["StackStatus"] != "CREATE_COMPLETE":
        raise AssertionError(f"stack {stack['StackStatus']}: {stack.get('StackStatusReason')}\n"
                             + moto.log_tail())
    physical = {r["LogicalResourceId"]: r["PhysicalResourceId"]
                for r in cf.list_stack_resources(StackName=STACK)["StackResourceSummaries"]}
    fn = moto.client("lambda").get_function(FunctionName=physical["Dyn53Function"])
    attrs = {
        ("Dyn53Function", "Arn"): fn["Configuration"]["FunctionArn"],
        ("HostTable", "Arn"): moto.client("dynamodb").describe_table(
            TableName=physical["HostTable"])["Table"]["TableArn"],
    }
    resolver = Resolver(template, params, physical, attrs)
    _provision(moto, held, resolver, physical, attrs)
    return template, resolver, physical, stack


def _provision(moto, held, resolver, physical, attrs):
    """Creates the resources moto's CloudFormation skips, through their APIs."""
    for logical, res in sorted(held.items()):
        if "Condition" in res and not resolver.condition(res["Condition"]):
            continue
        props = resolver.resolve(res["Properties"])
        kind = res["Type"]
        if kind == "AWS::Lambda::Url":
            out = moto.client("lambda").create_function_url_config(
                FunctionName=props["TargetFunctionArn"], AuthType=props["AuthType"],
                InvokeMode=props["InvokeMode"])
            physical[logical] = out["FunctionArn"]
            attrs[(logical, "FunctionUrl")] = out["FunctionUrl"]
        elif kind == "AWS::SNS::Subscription":
            out = moto.client("sns").subscribe(
                TopicArn=props["TopicArn"], Protocol=props["Protocol"], Endpoint=props["Endpoint"],
                ReturnSubscriptionArn=True)
            physical[logical] = out["SubscriptionArn"]
        elif kind == "AWS::CloudWatch::Alarm":
            # CloudFormation converts parameter strings to the property's type; so does this.
            for k in ("Period", "EvaluationPeriods"):
                props[k] = int(props[k])
            props["Threshold"] = float(props["Threshold"])
            moto.client("cloudwatch").put_metric_alarm(**props)
            physical[logical] = props["AlarmName"]
