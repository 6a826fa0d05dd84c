"""What an AWS call needs from an identity policy, and whether a policy grants it.

moto checks a caller's actions but not resources or conditions (see least_privilege.py),
so every call the backend makes is recorded and judged here against the policy exactly as
the stack renders it: action, resource ARN, and the condition keys the template relies on
(route53:ChangeResourceRecordSets*, dynamodb:LeadingKeys, dynamodb:Select and
dynamodb:Attributes, kms:EncryptionContext:*, kms:ViaService).
"""
import fnmatch
import json
import re
import urllib.parse
import xml.etree.ElementTree as ET

ACCOUNT = "123456789012"
REGION = "us-east-1"


class Call:
    """One AWS call: the IAM action, the resource ARN and the condition context."""

    def __init__(self, action, resource, context=None, label=""):
        self.action = action
        self.resource = resource
        self.context = context or {}
        self.label = label or action

    def __repr__(self):
        return f"{self.action} on {self.resource} {json.dumps(self.context, sort_keys=True)}"


def _local(tag):
    return tag.rsplit("}", 1)[-1]


def call_from_http(method, path, headers, body):
    """The IAM view of one SDK request (DynamoDB JSON, Route 53 REST XML, SNS query)."""
    headers = {k.lower(): v for k, v in headers.items()}
    auth = headers.get("authorization", "")
    m = re.search(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/", auth)
    service = m.group(1) if m else "?"
    if service == "dynamodb":
        op = headers.get("x-amz-target", "").split(".")[-1]
        doc = json.loads(body or b"{}")
        table = doc.get("TableName", "?")
        ctx = {}
        key = doc.get("Key") or doc.get("Item")
        if key is not None:
            ctx["dynamodb:LeadingKeys"] = [key.get("pk", {}).get("S", "")]
        if "RequestItems" in doc:  # BatchGetItem: one table, several keys
            table = next(iter(doc["RequestItems"]), "?")
            keys = doc["RequestItems"].get(table, {}).get("Keys", [])
            ctx["dynamodb:LeadingKeys"] = [k.get("pk", {}).get("S", "") for k in keys]
        if "Select" in doc:
            ctx["dynamodb:Select"] = doc["Select"]
        if "ProjectionExpression" in doc:
            aliases = doc.get("ExpressionAttributeNames", {})
            ctx["dynamodb:Attributes"] = [aliases.get(a.strip(), a.strip())
                                          for a in doc["ProjectionExpression"].split(",")]
        return Call(f"dynamodb:{op}", f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{table}", ctx)
    if service == "route53":
        p = urllib.parse.urlparse(path).path.rstrip("/")
        zm = re.match(r"^/2013-04-01/hostedzone/([^/]+)/rrset$", p)
        if zm and method == "GET":
            return Call("route53:ListResourceRecordSets",
                        f"arn:aws:route53:::hostedzone/{zm.group(1)}")
        if zm and method == "POST":
            root = ET.fromstring(body)
            actions, types, names = [], [], []
            for change in root.iter():
                if _local(change.tag) != "Change":
                    continue
                for el in change.iter():
                    t = _local(el.tag)
                    if t == "Action":
                        actions.append(el.text)
                    elif t == "Type":
                        types.append(el.text)
                    elif t == "Name":
                        # Route 53 normalises: lower case, no trailing dot.
                        names.append(el.text.lower().rstrip("."))
            return Call("route53:ChangeResourceRecordSets",
                        f"arn:aws:route53:::hostedzone/{zm.group(1)}", {
                            "route53:ChangeResourceRecordSetsActions": actions,
                            "route53:ChangeResourceRecordSetsRecordTypes": types,
                            "route53:ChangeResourceRecordSetsNormalizedRecordNames": names,
                        })
        return Call(f"route53:?{method} {p}", "?")
    if service == "kms":
        op = headers.get("x-amz-target", "").split(".")[-1]
        doc = json.loads(body or b"{}")
        ctx = {f"kms:EncryptionContext:{k}": v
               for k, v in (doc.get("EncryptionContext") or {}).items()}
        # The key as the caller named it (dyn53 passes the ARN, so the resource matches).
        return Call(f"kms:{op}", doc.get("KeyId", "?"), ctx)
    if service == "sns":
        form = urllib.parse.parse_qs((body or b"").decode())
        op = form.get("Action", ["?"])[0]
        return Call(f"sns:{op}", form.get("TopicArn", ["?"])[0])
    if service == "ssm":
        op = headers.get("x-amz-target", "").split(".")[-1]
        doc = json.loads(body or b"{}")
        name = doc.get("Path") or doc.get("Name") or "?"
        return Call(f"ssm:{op}", f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter{name}")
    return Call(f"{service}:?", "?")


def _values(v):
    return v if isinstance(v, list) else [v]


def _condition_holds(condition, context):
    for operator, keys in condition.items():
        for key, wanted in keys.items():
            wanted = _values(wanted)
            if operator.startswith("ForAllValues:"):
                base, have = operator.split(":", 1)[1], context.get(key, [])
            elif operator in ("StringEquals", "StringLike"):
                base, have = operator, _values(context.get(key, []))
                if not have:
                    return False
            else:
                raise ValueError(f"condition operator {operator} is not modelled here")
            if base == "StringEquals":
                ok = all(h in wanted for h in have)
            elif base == "StringLike":
                ok = all(any(fnmatch.fnmatchcase(h, w) for w in wanted) for h in have)
            else:
                raise ValueError(f"condition operator {operator} is not modelled here")
            if not ok:
                return False
    return True


def allowed(policy, call):
    """(allowed, the Sid that allows it or why not) for one call under an identity policy
    with Allow statements (an explicit Deny anywhere refuses)."""
    granted = None
    for st in policy["Statement"]:
        if not any(fnmatch.fnmatchcase(call.action, a) for a in _values(st.get("Action", []))):
            continue
        if not any(fnmatch.fnmatchcase(call.resource, r) for r in _values(st.get("Resource", []))):
            continue
        if not _condition_holds(st.get("Condition", {}), call.context):
            continue
        if st["Effect"] == "Deny":
            return False, f"denied by {st.get('Sid', '?')}"
        granted = st.get("Sid", "?")
    return (True, granted) if granted else (False, "no statement allows it")
