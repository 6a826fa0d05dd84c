"""Deploy proof: the SAM template, rendered to plain CloudFormation by aws-sam-translator,
creates a stack on moto with real parameter values, and the resources it made are the
ones the template promises (table keys, TTL, backups, topic and subscriptions, alarms,
function and its URL, the silent-host schedule, the role's policy)."""
import ast
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import Checks  # noqa: E402
from deploy import deploy  # noqa: E402
from motoserver import Moto  # noqa: E402

RECORD_NAMES = "home.example.com,*.dyn.example.com"


def role_policy(moto, role):
    """The role's inline policy documents as moto holds them (some versions keep the
    Python repr of the parsed document instead of JSON)."""
    iam = moto.client("iam")
    docs = []
    for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        doc = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        if isinstance(doc, str):
            try:
                doc = json.loads(doc)
            except ValueError:
                doc = ast.literal_eval(doc)
        docs.append(doc)
    return docs


def stack_params(zone_ids):
    return {
        "HostedZoneIds": ",".join(zone_ids),
        "RecordNames": RECORD_NAMES,
        "NotifyEmail": "owner@example.com",
        "NotifyPhoneNumber": "+447700900123",
        "ReservedConcurrency": "3",
    }


def zones(moto):
    r53 = moto.client("route53")
    return [
        r53.create_hosted_zone(Name=n, CallerReference=n)["HostedZone"]["Id"].split("/")[-1]
        for n in ("example.com", "example.org")
    ]


def main():
    c = Checks("61-stack-deploy")
    moto = Moto()
    zone_ids = zones(moto)
    params = stack_params(zone_ids)
    template, _, physical, stack = deploy(moto, params)
    c.equal("stack created", stack["StackStatus"], "CREATE_COMPLETE")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    c.equal("output RecordNames (for host add)", outputs.get("RecordNames"), RECORD_NAMES)
    c.equal("output HostTableName", outputs.get("HostTableName"), physical["HostTable"])
    c.equal("output NotifyTopicArn", outputs.get("NotifyTopicArn"), physical["NotifyTopic"])

    ddb = moto.client("dynamodb")
    table = ddb.describe_table(TableName=physical["HostTable"])["Table"]
    c.equal("table key: pk (string, hash)",
            (table["KeySchema"], table["AttributeDefinitions"]),
            ([{"AttributeName": "pk", "KeyType": "HASH"}],
             [{"AttributeName": "pk", "AttributeType": "S"}]))
    c.equal("table on demand", table.get("BillingModeSummary", {}).get("BillingMode"),
            "PAY_PER_REQUEST")
    # moto's CloudFormation drops TimeToLiveSpecification, PointInTimeRecoverySpecification
    # and Architectures (the resources come out with moto's defaults); those three are
    # checked on the rendered template, which is what AWS CloudFormation receives.
    res = template["Resources"]
    table_props = res["HostTable"]["Properties"]
    c.equal("table TTL on expires (rendered; moto drops it)",
            table_props.get("TimeToLiveSpecification"),
            {"AttributeName": "expires", "Enabled": True})
    c.equal("table point-in-time recovery (rendered; moto drops it)",
            table_props.get("PointInTimeRecoverySpecification"),
            {"PointInTimeRecoveryEnabled": True})
    c.equal("function arch arm64 (rendered; moto drops it)",
            res["Dyn53Function"]["Properties"].get("Architectures"), ["arm64"])

    sns = moto.client("sns")
    subs = sns.list_subscriptions_by_topic(TopicArn=physical["NotifyTopic"])["Subscriptions"]
    c.equal("topic subscriptions: SMS, email and the function (alarm forwarding)",
            sorted((s["Protocol"], s["Endpoint"].split(":")[-1]) for s in subs),
            [("email", "owner@example.com"), ("lambda", physical["Dyn53Function"]),
             ("sms", "+447700900123")])

    to_fn = [r["Properties"] for r in res.values() if r["Type"] == "AWS::SNS::Subscription"
             and r["Properties"].get("Protocol") == "lambda"]
    c.equal("function subscription: CloudWatch alarm messages only (rendered; moto drops it)",
            [(p.get("FilterPolicyScope"), p.get("FilterPolicy")) for p in to_fn],
            [("MessageBody", {"AlarmName": [{"exists": True}]})])
    lam = moto.client("lambda")
    fn = lam.get_function(FunctionName=physical["Dyn53Function"])
    cfg = fn["Configuration"]
    c.equal("function runtime, memory, timeout",
            (cfg["Runtime"], cfg["MemorySize"], cfg["Timeout"]), ("provided.al2023", 128, 20))
    env = cfg["Environment"]["Variables"]
    c.equal("function env: table, topic, record names",
            (env.get("DYN53_TABLE"), env.get("DYN53_TOPIC_ARN"), env.get("DYN53_RECORD_NAMES")),
            (physical["HostTable"], physical["NotifyTopic"], RECORD_NAMES))
    # The operator's settings arrive with the template's defaults (moto keeps a Number
    # parameter's Ref as a number, CloudFormation as a string: compare as text).
    c.equal("function env: operator settings at their defaults",
            {k: str(env.get(k)) for k in ("DYN53_RATE_LIMIT", "DYN53_CHANGE_LIMIT",
                                          "DYN53_NOTIFY_QUIET_SECS", "DYN53_ROUTE53_RATE",
                                          "DYN53_RECORD_CONFIRM_SECS", "DYN53_DNS_BUDGET_MS")},
            {"DYN53_RATE_LIMIT": "10/300", "DYN53_CHANGE_LIMIT": "20/3600",
             "DYN53_NOTIFY_QUIET_SECS": "3600", "DYN53_ROUTE53_RATE": "8",
             "DYN53_RECORD_CONFIRM_SECS": "3600", "DYN53_DNS_BUDGET_MS": "8000"})
    c.equal("function reserved concurrency", fn.get("Concurrency", {}).get(
        "ReservedConcurrentExecutions"), 3)
    c.check("function runs as its own role",
            cfg["Role"].endswith("/" + physical["Dyn53FunctionRole"]), cfg["Role"])
    url = lam.get_function_url_config(FunctionName=physical["Dyn53Function"])
    c.equal("function URL: public, buffered", (url["AuthType"], url.get("InvokeMode")),
            ("NONE", "BUFFERED"))
    policy = json.loads(lam.get_policy(FunctionName=physical["Dyn53Function"])["Policy"])
    actions = sorted(s["Action"] for s in policy["Statement"])
    c.equal("function resource policy: URL invoke and invoke, schedule, SNS",
            sorted((s["Action"], s["Principal"].get("Service", "*") if isinstance(
                s["Principal"], dict) else s["Principal"]) for s in policy["Statement"]),
            [("lambda:InvokeFunction", "*"), ("lambda:InvokeFunction", "events.amazonaws.com"),
             ("lambda:InvokeFunction", "sns.amazonaws.com"), ("lambda:InvokeFunctionUrl", "*")])
    logs = moto.client("logs").describe_log_groups(logGroupNamePrefix="/aws/lambda/dyn53-dyn53")
    c.equal("log group retention", [g.get("retentionInDays") for g in logs["logGroups"]], [30])

    alarms = {a["AlarmName"]: a for a in moto.client("cloudwatch").describe_alarms()["MetricAlarms"]}
    alarms = {a["AlarmName"]: a for a in moto.client("cloudwatch").describe_alarms()["MetricAlarms"]}
    c.equal("alarms: errors, function errors, throttles (hosts: the scheduled check)",
            sorted(alarms), sorted(["dyn53 dyn53 update errors", "dyn53 dyn53 function errors",
                                    "dyn53 dyn53 throttled"]))
    rules = moto.client("events").list_rules()["Rules"]
    c.equal("schedule: the silent-host check every 15 minutes",
            [r.get("ScheduleExpression") for r in rules], ["rate(15 minutes)"])
    targets = moto.client("events").list_targets_by_rule(Rule=rules[0]["Name"])["Targets"] if rules else []
    c.check("schedule invokes the function",
            [t["Arn"].split(":")[-1] for t in targets] == [physical["Dyn53Function"]], targets)
    c.equal("function env: channel parameter path", env.get("DYN53_SSM_PATH"), "/dyn53/dyn53")

    docs = role_policy(moto, physical["Dyn53FunctionRole"])
    c.equal("role has one inline policy", len(docs), 1)
    by_sid = {s["Sid"]: s for s in docs[0]["Statement"]} if docs else {}
    zone_arns = [f"arn:aws:route53:::hostedzone/{z}" for z in zone_ids]
    change = by_sid.get("UpsertAddressRecordsOfTheGivenZones", {})
    c.equal("Route 53 changes: both zones, nothing else", change.get("Resource"), zone_arns)
    c.equal("Route 53 changes: only the RecordNames",
            change.get("Condition", {}).get("ForAllValues:StringLike", {}).get(
                "route53:ChangeResourceRecordSetsNormalizedRecordNames"),
            RECORD_NAMES.split(","))
    write = by_sid.get("WriteOnlyTheFunctionsOwnItems", {})
    keys = write.get("Condition", {}).get("ForAllValues:StringLike", {}).get("dynamodb:LeadingKeys", [])
    c.check("table writes: never host# items", keys and not any(
        k.startswith("host") or k == "*" for k in keys), keys)
    c.equal("channel parameters: only this stack's path",
            by_sid.get("ReadAlertChannels", {}).get("Resource"),
            "arn:aws:ssm:us-east-1:123456789012:parameter/dyn53/dyn53/channels")
    c.equal("notifications: only the stack's topic",
            by_sid.get("Notify", {}).get("Resource"), physical["NotifyTopic"])
    check_secrets_key(c, moto, physical, outputs, env, by_sid)
    c.finish()


def secrets_key(key_id):
    """The stack's KMS key from moto's model (moto runs in this process). Through the API,
    moto 5.2 answers 500 to DescribeKey on a key its CloudFormation made: it keeps the
    KeyPolicy as an object and its key-policy check json-parses it (a TypeError)."""
    from moto.kms.models import kms_backends

    return kms_backends["123456789012"]["us-east-1"].describe_key(key_id)


def check_secrets_key(c, moto, physical, outputs, env, by_sid):
    """The KMS key that seals host secrets: rotated, used only with the table's encryption
    context, and the function may only Decrypt (never make or re-wrap data keys)."""
    key = secrets_key(physical["SecretsKey"])
    arn = key.arn
    c.equal("secrets key: symmetric, enabled", (key.key_spec, key.key_usage, key.enabled),
            ("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", True))
    c.equal("secrets key: yearly rotation on", bool(key.key_rotation_status), True)
    c.equal("output SecretsKeyArn and function env DYN53_KMS_KEY",
            (outputs.get("SecretsKeyArn"), env.get("DYN53_KMS_KEY")), (arn, arn))
    policy = json.loads(key.policy) if isinstance(key.policy, str) else key.policy
    context = {"kms:EncryptionContext:dyn53-table": physical["HostTable"]}
    statements = policy.get("Statement", [])
    use = [s for s in statements if {"kms:Decrypt", "kms:GenerateDataKey"} & set(
        s["Action"] if isinstance(s["Action"], list) else [s["Action"]])]
    c.check("key policy: data keys only with the table's encryption context",
            use and all(s.get("Condition", {}).get("StringEquals") == context for s in use), use)
    c.check("key policy: no statement allows kms:* or Encrypt",
            not any(a in ("kms:*", "kms:Encrypt", "kms:ReEncrypt*") for s in statements
                    for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])),
            statements)
    c.check("key policy: no wildcard principal",
            all(s.get("Principal") not in ("*", {"AWS": "*"}) for s in statements), statements)
    fn = by_sid.get("OpenTheTablesDataKey", {})
    c.equal("function: kms:Decrypt of this key with the table's context, nothing else",
            (fn.get("Action"), fn.get("Resource"), fn.get("Condition")),
            ("kms:Decrypt", arn, {"StringEquals": context}))
    # The only other KMS use: SSM decrypting the alert channels' SecureStrings (issue 15),
    # which kms:ViaService confines to SSM calls; no other key use, no other action.
    via_ssm = {"StringEquals": {"kms:ViaService": "ssm.us-east-1.amazonaws.com"}}
    other = {sid: s for sid, s in by_sid.items() if sid != "OpenTheTablesDataKey"
             and (str(s.get("Action")).startswith("kms") or "'kms:" in str(s.get("Action")))}
    c.check("function: no other KMS action than Decrypt through SSM", all(
        s.get("Action") == "kms:Decrypt" and s.get("Condition") == via_ssm
        for s in other.values()), other)


if __name__ == "__main__":
    main()
