"""A reference-style dynamic-DNS handler for `make bench`, written for this bench from the
behaviour described in FIELD-NOTES section 1b (the 2023 reference design: a config table of
`{"hostname": S, "data": S}` items, a sha256(ip + hostname + secret) token, GetItem, then
ListResourceRecordSets, compare, UPSERT on change, and a notification), served over plain
HTTP with boto3 against the same moto as dyn53. It is the baseline dyn53's per-request cost
is compared with, not a product: no rate limit, no replay protection, no metrics.
"""
import hashlib
import hmac
import http.server
import json
import threading


class Reference:
    """The handler's state: boto3 clients and the config table, topic and caller."""

    def __init__(self, session, endpoint, table, topic_arn):
        def client(service):
            return session.client(service, endpoint_url=endpoint, region_name="us-east-1",
                                  aws_access_key_id="test", aws_secret_access_key="test")

        self.ddb = client("dynamodb")
        self.r53 = client("route53")
        self.sns = client("sns")
        self.table = table
        self.topic_arn = topic_arn

    def set(self, source_ip, hostname, token):
        """(status, message) of one set from `source_ip`."""
        item = self.ddb.get_item(TableName=self.table,
                                 Key={"hostname": {"S": hostname}}).get("Item")
        if not item:
            return 403, "There was an issue finding or reading the configuration"
        cfg = json.loads(item["data"]["S"])
        want = hashlib.sha256(f"{source_ip}{hostname}{cfg['shared_secret']}".encode()).hexdigest()
        if not hmac.compare_digest(want, token):
            return 401, "Validation hashes do not match."
        rtype = cfg.get("route_53_record_type", "A")
        zone = cfg["route_53_zone_id"]
        found = self.r53.list_resource_record_sets(
            HostedZoneId=zone, StartRecordName=hostname, StartRecordType=rtype, MaxItems="1"
        )["ResourceRecordSets"]
        # The API answers the NEXT record when the asked one is missing: check name and type.
        current = None
        if found and found[0]["Name"].rstrip(".") == hostname.rstrip(".") and found[0]["Type"] == rtype:
            current = found[0]["ResourceRecords"][0]["Value"]
        if current == source_ip:
            return 200, "Your IP address matches the current Route53 DNS record."
        self.r53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [{
            "Action": "UPSERT", "ResourceRecordSet": {
                "Name": hostname, "Type": rtype, "TTL": int(cfg.get("route_53_record_ttl", 60)),
                "ResourceRecords": [{"Value": source_ip}]}}]})
        self.sns.publish(TopicArn=self.topic_arn, Message=f"{hostname} has been updated to {source_ip}")
        return 201, f"{hostname} has been updated to {source_ip}"


def serve(reference):
    """Serves `reference` on a free loopback port in a thread; returns the server."""

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            try:
                req = json.loads(self.rfile.read(n) or b"{}")
                if req.get("execution_mode") == "get":
                    status, msg = 200, self.client_address[0]
                else:
                    status, msg = reference.set(self.client_address[0], req["ddns_hostname"],
                                                req["validation_hash"])
                body = json.dumps({"return_status": "success" if status < 300 else "fail",
                                   "return_message": msg}).encode()
            except Exception as e:  # the reference answers 500 on anything unexpected
                status, body = 500, json.dumps({"return_status": "fail",
                                                "return_message": str(e)}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
