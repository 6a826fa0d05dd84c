"""The SAM template as plain CloudFormation, the way `sam deploy` hands it to AWS.

aws-sam-translator (the library inside SAM CLI and the AWS::Serverless transform) expands
AWS::Serverless::Function into the function, its role and its policies. `sam package`
replaces the local CodeUri with the uploaded bundle's S3 address first; so does this.

    python3 tests/stack/render.py [OUT.json]
"""
import json
import os
import sys

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TEMPLATE = os.path.join(ROOT, "lambda", "template.yaml")
CODE_BUCKET = "dyn53-code"
CODE_KEY = "dyn53-backend.zip"


class _NoManagedPolicies:
    """The translator asks IAM for managed policy ARNs only when a template names one by
    its short name; this template names none."""

    def load(self):
        return {}


def sam_template():
    with open(TEMPLATE, encoding="utf-8") as f:
        return yaml_parse(f.read())


def render(region="us-east-1"):
    """The translated template (a dict)."""
    os.environ.setdefault("AWS_DEFAULT_REGION", region)
    t = sam_template()
    t["Resources"]["Dyn53Function"]["Properties"]["CodeUri"] = f"s3://{CODE_BUCKET}/{CODE_KEY}"
    return transform(t, {}, _NoManagedPolicies())


if __name__ == "__main__":
    out = json.dumps(render(), indent=1, sort_keys=True)
    if len(sys.argv) > 1:
        with open(sys.argv[1], "w", encoding="utf-8") as f:
            f.write(out + "\n")
    else:
        print(out)
