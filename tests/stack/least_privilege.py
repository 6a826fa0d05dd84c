"""Least privilege proven: the real backend (`dyn53-backend serve`) does its work against
moto with IAM enforcement on, as a principal holding the policy of the deployed stack's
function role (read from the stack, never copied), and every AWS call it made is judged
against that policy with resources and conditions.

What moto checks (moto 5.2, read in moto/core/authorization.py and iam/access_control.py):
the request must be signed by a known access key and its action allowed; resources are
always compared with `*` (so any statement naming an ARN never matches), and an identity
policy's Condition is evaluated against no request values (so any conditioned statement
denies). The principal here therefore gets the role's statements with the same actions but
Resource `*` and no Condition: moto proves that no action is missing. Resources and
conditions (zones, RecordNames, dynamodb:LeadingKeys, the topic) are proven by recording
every call through a proxy and judging it with iam_eval against the unmodified policy, by
calls the policy must refuse, and by parliament's lint of the policy.
"""
import hashlib
import hmac
import http.client
import http.server
import json
import os
import re
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import Checks  # noqa: E402
from deploy import deploy  # noqa: E402
from deploy_check import RECORD_NAMES, role_policy, secrets_key  # noqa: E402
from iam_eval import Call, allowed, call_from_http  # noqa: E402
from motoserver import Moto  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("DYN53_BACKEND_BIN", os.path.join(ROOT, "target", "debug", "dyn53-backend"))


class Recorder(http.server.ThreadingHTTPServer):
    """A pass-through proxy to moto that records every request (the SDK signs the Host
    header it sends, which is passed on unchanged, so moto's signature check still holds)."""

    daemon_threads = True

    def __init__(self, upstream_port):
        self.upstream_port = upstream_port
        self.calls = []
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Forward)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}"

    def take(self):
        with self.lock:
            out, self.calls = self.calls, []
        return out


class _Forward(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        up = http.client.HTTPConnection("127.0.0.1", self.server.upstream_port, timeout=30)
        up.request(self.command, self.path, body=body, headers=dict(self.headers.items()))
        r = up.getresponse()
        data = r.read()
        call = call_from_http(self.command, self.path, dict(self.headers.items()), body)
        with self.server.lock:
            self.server.calls.append((call, r.status, data[:300]))
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() not in ("content-length", "transfer-encoding", "connection", "server", "date"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _any


def moto_shaped(policy):
    """The role's statements as moto can evaluate them: same actions, Resource `*`, no
    Condition (see the module doc)."""
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": s.get("Sid", f"S{i}"), "Effect": s["Effect"], "Action": s["Action"], "Resource": "*"}
        for i, s in enumerate(policy["Statement"])]}


def user_with(iam, name, policy):
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    k = iam.create_access_key(UserName=name)["AccessKey"]
    return k["AccessKeyId"], k["SecretAccessKey"]


class Service:
    """`dyn53-backend serve` with the given AWS identity and settings."""

    def __init__(self, endpoint, key, env):
        full = dict(os.environ)
        for k in list(full):
            if k.startswith(("AWS_", "DYN53_")):
                del full[k]
        full.update(env)
        full.update({"AWS_ENDPOINT_URL": endpoint, "AWS_REGION": "us-east-1",
                     "AWS_ACCESS_KEY_ID": key[0], "AWS_SECRET_ACCESS_KEY": key[1]})
        self.proc = subprocess.Popen([BIN, "serve", "--listen", "127.0.0.1:0"], env=full,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.log = []
        # Start-up lines (the alert channels read) come before "listening on".
        m = None
        for _ in range(5):
            first = self.proc.stderr.readline()
            self.log.append(first.rstrip())
            m = re.search(r"listening on http://([0-9.]+):([0-9]+)", first)
            if m or not first:
                break
        if not m:
            raise SystemExit(f"dyn53-backend serve did not start: {self.log}")
        self.port = int(m.group(2))
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self):
        for line in self.proc.stderr:
            self.log.append(line.rstrip())

    def post(self, body):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        c.request("POST", "/", body=json.dumps(body), headers={"Content-Type": "application/json"})
        r = c.getresponse()
        return r.status, json.loads(r.read())

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


def v2_set(svc, host, secret, ip="127.0.0.1", rtype="A", mode="source"):
    status, got = svc.post({"execution_mode": "get", "protocol": 2})
    nonce = got["nonce"]
    text = f"dyn53-v2\n{host}\n{rtype}\n{ip}\n{mode}\n{nonce}\n"
    sig = hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()
    return svc.post({"execution_mode": "set", "protocol": 2, "ddns_hostname": host,
                     "record_type": rtype, "ip": ip, "ip_mode": mode, "nonce": nonce,
                     "signature": sig})


def v1_set(svc, host, secret, ip="127.0.0.1"):
    token = hashlib.sha256(f"{ip}{host}{secret}".encode()).hexdigest()
    return svc.post({"execution_mode": "set", "ddns_hostname": host, "validation_hash": token})


def host_add(moto, table, zone_id, name, *flags, kms_key):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DYN53_"))}
    env.update({"AWS_ENDPOINT_URL": moto.url, "AWS_REGION": "us-east-1",
                "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                "DYN53_TABLE": table, "DYN53_RECORD_NAMES": RECORD_NAMES,
                "DYN53_KMS_KEY": kms_key})
    r = subprocess.run([BIN, "host", "add", name, "--zone-id", zone_id, *flags], env=env,
                       capture_output=True, text=True, timeout=60)
    m = re.search(r"Secret \(shown only now[^\n]*\n\s+(\S+)", r.stdout)
    return r.returncode, (m.group(1) if m else None), r.stderr


def sns_texts(topic):
    """Messages published to `topic`, read from moto's model (it runs in this process;
    /moto-api/data.json fails once a Lambda function exists and no Docker is there)."""
    from moto.sns.models import sns_backends

    return [n[1] for n in sns_backends["123456789012"]["us-east-1"].topics[topic].sent_notifications]


def main():
    c = Checks("62-least-privilege")
    if not os.path.exists(BIN):
        raise SystemExit(f"{BIN} is missing: build it (cargo build -p dyn53-backend)")
    moto = Moto()
    r53 = moto.client("route53")
    zone_id = r53.create_hosted_zone(Name="example.com", CallerReference="lp")["HostedZone"]["Id"].split("/")[-1]
    other_zone = r53.create_hosted_zone(Name="example.org", CallerReference="lp2")["HostedZone"]["Id"].split("/")[-1]
    _, _, physical, _ = deploy(moto, {"HostedZoneIds": zone_id, "RecordNames": RECORD_NAMES})
    table, topic = physical["HostTable"], physical["NotifyTopic"]
    (policy,) = role_policy(moto, physical["Dyn53FunctionRole"])
    key_arn = secrets_key(physical["SecretsKey"]).arn
    key_policy = secrets_key(physical["SecretsKey"]).policy
    key_policy = json.loads(key_policy) if isinstance(key_policy, str) else key_policy

    # The owner's side, before IAM is enforced: hosts added by the real admin CLI, their
    # secrets sealed with the stack's KMS key (the function must open them).
    code, home_secret, _ = host_add(moto, table, zone_id, "home.example.com", "--protocols", "2",
                                    kms_key=key_arn)
    c.equal("host add home.example.com (in RecordNames)", (code, bool(home_secret)), (0, True))
    code, nas_secret, _ = host_add(moto, table, zone_id, "nas.dyn.example.com", kms_key=key_arn)
    c.equal("host add nas.dyn.example.com (in RecordNames)", (code, bool(nas_secret)), (0, True))
    item = moto.client("dynamodb").get_item(TableName=table, Key={"pk": {"S": "host#home.example.com"}})
    c.check("host secrets sealed in the table (no plaintext attribute)",
            "secret" not in item["Item"] and "secret_sealed" in item["Item"], sorted(item["Item"]))
    code, www_secret, err = host_add(moto, table, zone_id, "www.example.com", kms_key=key_arn)
    c.check("host add www.example.com refused: outside RecordNames",
            code == 2 and www_secret is None and "RecordNames" in err, f"exit {code}: {err}")

    iam = moto.client("iam")
    fn_key = user_with(iam, "dyn53-function", moto_shaped(policy))
    admin_key = user_with(iam, "test-admin", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "*", "Resource": "*"}]})
    # The same policy without one action the backend needs: a missing permission must fail.
    short = moto_shaped(policy)
    for s in short["Statement"]:
        acts = s["Action"] if isinstance(s["Action"], list) else [s["Action"]]
        s["Action"] = [a for a in acts if a != "dynamodb:PutItem"] or ["dynamodb:DescribeLimits"]
    short_key = user_with(iam, "dyn53-short", short)
    no_kms = moto_shaped(policy)
    no_kms["Statement"] = [s for s in no_kms["Statement"] if s["Action"] != "kms:Decrypt"]
    no_kms_key = user_with(iam, "dyn53-no-kms", no_kms)
    moto.enforce_iam()

    # A host item outside RecordNames, written by hand as an owner might (host add refuses).
    moto.client("dynamodb", *admin_key).put_item(TableName=table, Item={
        "pk": {"S": "host#www.example.com"}, "secret": {"S": "w" * 64},
        "zone_id": {"S": zone_id}, "zone_name": {"S": "example.com"}})

    rec = Recorder(moto.port)
    # The function's own environment as the stack set it, with a tighter rate limit so the
    # limit is reached within this run.
    env = moto.client("lambda", *admin_key).get_function_configuration(
        FunctionName=physical["Dyn53Function"])["Environment"]["Variables"]
    c.equal("function env from the stack: table, topic, record names",
            (env.get("DYN53_TABLE"), env.get("DYN53_TOPIC_ARN"), env.get("DYN53_RECORD_NAMES")),
            (table, topic, RECORD_NAMES))
    # moto keeps a Number parameter's Ref as a number; CloudFormation makes it a string, and
    # a process environment holds only strings.
    env = {k: str(v) for k, v in env.items()}
    # The silent-host check every second, so its Scan and mark are judged too.
    env = dict(env, DYN53_RATE_LIMIT="4/300", DYN53_SILENT_CHECK_SECS="1")
    svc = Service(rec.url, fn_key, env)
    try:
        results = {}
        results["v2 first set (changed)"] = v2_set(svc, "home.example.com", home_secret)
        results["v2 same address (unchanged)"] = v2_set(svc, "home.example.com", home_secret)
        results["v1 set (changed)"] = v1_set(svc, "nas.dyn.example.com", nas_secret)
        results["v1 to a v2-only host (refused)"] = v1_set(svc, "home.example.com", home_secret)
        results["wrong secret (auth failure, notified)"] = v2_set(svc, "home.example.com", "x" * 64)
        results["v2 get"] = svc.post({"execution_mode": "get", "protocol": 2})
        results["a host outside RecordNames (refused)"] = v1_set(svc, "www.example.com", "w" * 64)
        for _ in range(3):
            results["rate limit"] = v2_set(svc, "home.example.com", home_secret)
        time.sleep(1.5)  # at least one silent-host check
        expect = {
            "v2 first set (changed)": (201, "changed"),
            "v2 same address (unchanged)": (200, "unchanged"),
            # v1 answers as the reference does: only return_status and return_message.
            "v1 set (changed)": (201, "success"),
            "v1 to a v2-only host (refused)": (403, "fail"),
            "wrong secret (auth failure, notified)": (403, "error"),
            "v2 get": (200, "ip"),
            "a host outside RecordNames (refused)": (403, "fail"),
            "rate limit": (429, "error"),
        }
        for name, (status, body) in results.items():
            c.equal(f"backend: {name}", (status, body.get("result", body.get("return_status"))),
                    expect[name])
        c.equal("record home.example.com A set in Route 53",
                sorted((s["Name"], [r["Value"] for r in s["ResourceRecords"]])
                       for s in moto.client("route53", *admin_key).list_resource_record_sets(
                           HostedZoneId=zone_id)["ResourceRecordSets"] if s["Type"] == "A"),
                [("home.example.com.", ["127.0.0.1"]), ("nas.dyn.example.com.", ["127.0.0.1"])])
        texts = sns_texts(topic)
        c.check("notifications: two changes, one auth failure, one error (www)",
                len(texts) == 4 and sum("authentication failure" in t for t in texts) == 1
                and sum("RecordNames" in t for t in texts) == 1, texts)
        errors = [line for line in svc.log if " error: " in line]
        c.check("backend logged only the www refusal as an error",
                len(errors) == 1 and "www.example.com: not among the stack's RecordNames" in errors[0],
                errors)
    finally:
        svc.stop()
    calls = rec.take()
    c.check("every call answered without AccessDenied",
            all(status < 400 or b"ConditionalCheckFailed" in body for _, status, body in calls),
            [(repr(k), s, b) for k, s, b in calls if s >= 400 and b"ConditionalCheckFailed" not in b])
    kinds = sorted({k.action for k, _, _ in calls})
    c.equal("calls made: reads, writes, data key, projected scan, Route 53 read and change, "
            "publish, channel parameters", kinds, [
                "dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Scan",
                "dynamodb:UpdateItem", "kms:Decrypt", "route53:ChangeResourceRecordSets",
                "route53:ListResourceRecordSets", "sns:Publish", "ssm:GetParametersByPath"])
    c.equal("one kms:Decrypt for the whole run (the data key is kept)",
            sum(k.action == "kms:Decrypt" for k, _, _ in calls), 1)
    refused = [(repr(k), why) for k, _, _ in calls for ok, why in [allowed(policy, k)] if not ok]
    c.check(f"all {len(calls)} calls allowed by the rendered policy with resources and conditions",
            not refused, refused)
    # moto does not evaluate key policies (only a Deny on DescribeKey): judged here.
    kms_refused = [(repr(k), why) for k, _, _ in calls if k.action.startswith("kms:")
                   for ok, why in [allowed(key_policy, Call(k.action, "*", k.context))] if not ok]
    c.check("every KMS call also allowed by the key policy", not kms_refused, kms_refused)
    reads = ("dynamodb:GetItem", "dynamodb:BatchGetItem")
    keys = sorted({k.context["dynamodb:LeadingKeys"][0].split("#")[0] + "#"
                   for k, _, _ in calls if k.action not in reads
                   and "dynamodb:LeadingKeys" in k.context})
    c.check("the function wrote no host# item", "host#" not in keys, keys)

    # Calls the policy must refuse, judged on the rendered policy.
    tarn = f"arn:aws:dynamodb:us-east-1:123456789012:table/{table}"
    zarn = f"arn:aws:route53:::hostedzone/{zone_id}"

    def change(names, types=("A",), actions=("UPSERT",), zone=zarn):
        return Call("route53:ChangeResourceRecordSets", zone, {
            "route53:ChangeResourceRecordSetsActions": list(actions),
            "route53:ChangeResourceRecordSetsRecordTypes": list(types),
            "route53:ChangeResourceRecordSetsNormalizedRecordNames": list(names)})

    must_refuse = {
        "write a host# item (secret)": Call("dynamodb:PutItem", tarn, {"dynamodb:LeadingKeys": ["host#home.example.com"]}),
        "update a host# item": Call("dynamodb:UpdateItem", tarn, {"dynamodb:LeadingKeys": ["host#x.example.com"]}),
        "delete a host# item": Call("dynamodb:DeleteItem", tarn, {"dynamodb:LeadingKeys": ["host#home.example.com"]}),
        "read another table": Call("dynamodb:GetItem", "arn:aws:dynamodb:us-east-1:123456789012:table/other", {"dynamodb:LeadingKeys": ["x"]}),
        "scan the table": Call("dynamodb:Scan", tarn),
        "scan the table for secrets": Call("dynamodb:Scan", tarn, {
            "dynamodb:Select": "SPECIFIC_ATTRIBUTES", "dynamodb:Attributes": ["pk", "secret"]}),
        "scan all attributes": Call("dynamodb:Scan", tarn, {"dynamodb:Select": "ALL_ATTRIBUTES"}),
        "read another stack's channels": Call(
            "ssm:GetParametersByPath",
            "arn:aws:ssm:us-east-1:123456789012:parameter/dyn53/other/channels"),
        "read a parameter by name": Call(
            "ssm:GetParameter",
            f"arn:aws:ssm:us-east-1:123456789012:parameter/dyn53/{physical['Dyn53Function'].rsplit('-dyn53', 1)[0]}/channels/x"),
        "decrypt outside SSM": Call("kms:Decrypt", "arn:aws:kms:us-east-1:123456789012:key/k"),
        "decrypt through another service": Call(
            "kms:Decrypt", "arn:aws:kms:us-east-1:123456789012:key/k",
            {"kms:ViaService": "s3.us-east-1.amazonaws.com"}),
        "decrypt with another account's key": Call(
            "kms:Decrypt", "arn:aws:kms:us-east-1:999999999999:key/k",
            {"kms:ViaService": "ssm.us-east-1.amazonaws.com"}),
        "change the apex": change(["example.com"]),
        "change www": change(["www.example.com"]),
        "change an allowed and a foreign name at once": change(["home.example.com", "mail.example.com"]),
        "change dyn.example.com itself": change(["dyn.example.com"]),
        "a TXT record": change(["home.example.com"], types=("TXT",)),
        "a DELETE": change(["home.example.com"], actions=("DELETE",)),
        "a zone not in HostedZoneIds": change(["home.example.com"], zone=f"arn:aws:route53:::hostedzone/{other_zone}"),
        "read another zone": Call("route53:ListResourceRecordSets", f"arn:aws:route53:::hostedzone/{other_zone}"),
        "publish to another topic": Call("sns:Publish", "arn:aws:sns:us-east-1:123456789012:other"),
        "decrypt for another table": Call("kms:Decrypt", key_arn, {"kms:EncryptionContext:dyn53-table": "other"}),
        "decrypt without the encryption context": Call("kms:Decrypt", key_arn),
        "decrypt with another key": Call("kms:Decrypt", key_arn.rsplit("/", 1)[0] + "/other", {"kms:EncryptionContext:dyn53-table": table}),
        "make a data key": Call("kms:GenerateDataKey", key_arn, {"kms:EncryptionContext:dyn53-table": table}),
        "encrypt": Call("kms:Encrypt", key_arn, {"kms:EncryptionContext:dyn53-table": table}),
    }
    for name, call in must_refuse.items():
        ok, why = allowed(policy, call)
        c.check(f"policy refuses: {name}", not ok, f"allowed by {why}")
    for name, call in {
        "data keys for another table": Call("kms:Decrypt", "*", {"kms:EncryptionContext:dyn53-table": "other"}),
        "data keys without the encryption context": Call("kms:GenerateDataKey", "*"),
        "plain encryption": Call("kms:Encrypt", "*", {"kms:EncryptionContext:dyn53-table": table}),
    }.items():
        c.check(f"key policy refuses: {name}", not allowed(key_policy, call)[0])
    c.check("policy allows: decrypting through SSM",
            allowed(policy, Call("kms:Decrypt", "arn:aws:kms:us-east-1:123456789012:key/k", {
                "kms:ViaService": "ssm.us-east-1.amazonaws.com"}))[0])
    c.check("policy allows: a deeper name under *.dyn.example.com",
            allowed(policy, change(["a.b.dyn.example.com"], types=("AAAA",)))[0])

    # moto enforces actions: the function's principal cannot call what the policy lacks.
    ddb = moto.client("dynamodb", *fn_key)
    for name, fn in {"dynamodb:Query": lambda: ddb.query(
                         TableName=table, KeyConditionExpression="pk = :p",
                         ExpressionAttributeValues={":p": {"S": "host#home.example.com"}}),
                     "route53:ListHostedZones": lambda: moto.client("route53", *fn_key).list_hosted_zones(),
                     "sns:ListTopics": lambda: moto.client("sns", *fn_key).list_topics()}.items():
        try:
            fn()
            c.check(f"moto refuses the function {name}", False, "it was allowed")
        except Exception as e:  # botocore ClientError: AccessDenied
            detail = json.dumps(getattr(e, "response", str(e)), default=str)
            c.check(f"moto refuses the function {name}", "AccessDenied" in detail, detail)

    # And a policy lacking one needed action breaks the backend (so the run above proves
    # the policy is enough, not that moto lets everything through).
    svc = Service(rec.url, short_key, env)
    try:
        status, body = v2_set(svc, "nas.dyn.example.com", nas_secret)
    finally:
        svc.stop()
    denied = [repr(k) for k, s, b in rec.take() if s >= 400 and b"AccessDenied" in b]
    c.check("without dynamodb:PutItem a set fails (503) and moto denied the call",
            status == 503 and any("PutItem" in d for d in denied), (status, body, denied))
    # And without kms:Decrypt a sealed secret cannot be opened: the table alone is not enough.
    svc = Service(rec.url, no_kms_key, env)
    try:
        status, body = v1_set(svc, "nas.dyn.example.com", nas_secret)
    finally:
        svc.stop()
    denied = [repr(k) for k, s, b in rec.take() if s >= 400 and b"AccessDenied" in b]
    c.check("without kms:Decrypt a sealed host's set fails (503) and moto denied the call",
            status == 503 and any("kms:Decrypt" in d for d in denied), (status, body, denied))

    lint_policy(c, policy)
    c.finish()


def lint_policy(c, policy):
    import parliament

    findings = parliament.analyze_policy_string(json.dumps(policy)).findings
    got = [(f.issue, json.dumps(f.detail, default=str)[:200]) for f in findings]
    c.check("parliament: no finding on the rendered policy", not got, got)
    # The linter is live: the same policy with the table writes on any resource is flagged.
    broad = json.loads(json.dumps(policy))
    for s in broad["Statement"]:
        s["Resource"] = "*"
    issues = {f.issue for f in parliament.analyze_policy_string(json.dumps(broad)).findings}
    c.check("parliament flags the policy with Resource * (the lint is live)",
            "RESOURCE_STAR" in issues, issues)


if __name__ == "__main__":
    main()
