#!/usr/bin/env python3
"""Talks to the moto server for the router end-to-end tests (boto3, which comes with moto).

  aws.py free-port                      print a free TCP port on 127.0.0.1
  aws.py zone-create DOMAIN             create a hosted zone, print its id
  aws.py topic-create NAME              create an SNS topic, print its ARN
  aws.py record ZONE_ID NAME TYPE       print the record's values (sorted, one line) or "none"
  aws.py sns-texts TOPIC_ARN            print the texts published to the topic, one per line

Endpoint and region come from AWS_ENDPOINT_URL and AWS_REGION.
"""
import json
import os
import socket
import sys
import urllib.request

import boto3


def client(service):
    return boto3.client(
        service,
        endpoint_url=os.environ["AWS_ENDPOINT_URL"],
        region_name=os.environ.get("AWS_REGION", "us-east-1"),
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def record(zone_id, name, rtype):
    """Values of NAME/TYPE, comparing name and type of what comes back (Route 53 answers
    with the next record when the asked one is missing)."""
    want = name.rstrip(".").lower() + "."
    sets = client("route53").list_resource_record_sets(
        HostedZoneId=zone_id, StartRecordName=want, StartRecordType=rtype, MaxItems="1"
    )["ResourceRecordSets"]
    for rs in sets:
        if rs["Name"].lower() == want and rs["Type"] == rtype:
            return " ".join(sorted(r["Value"] for r in rs.get("ResourceRecords", [])))
    return "none"


def sns_texts(topic_arn):
    """Texts moto recorded as published to TOPIC_ARN (its /moto-api/data.json)."""
    url = os.environ["AWS_ENDPOINT_URL"] + "/moto-api/data.json"
    with urllib.request.urlopen(url) as answer:
        data = json.load(answer)
    for topic in data.get("sns", {}).get("Topic", []):
        if topic.get("arn") == topic_arn:
            for note in topic.get("sent_notifications", []):
                print(note[1].replace("\n", " "))


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ""
    if cmd == "free-port":
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            print(s.getsockname()[1])
    elif cmd == "zone-create":
        zone = client("route53").create_hosted_zone(Name=argv[2], CallerReference=argv[2])
        print(zone["HostedZone"]["Id"].split("/")[-1])
    elif cmd == "topic-create":
        print(client("sns").create_topic(Name=argv[2])["TopicArn"])
    elif cmd == "record":
        print(record(argv[2], argv[3], argv[4]))
    elif cmd == "sns-texts":
        sns_texts(argv[2])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
