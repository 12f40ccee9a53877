"""Print the CloudFormation that SAM's translator makes of a SAM template.

The tests of package restapi run it with the pinned aws-sam-translator of
the repository's .venv to check that testdata/*.json is what the translator
writes: python translate.py template.yaml > template.json
"""
import json
import os
import sys

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


class Policies:
    """Managed policies by name, as IAM would list them."""

    def load(self):
        return {"AWSLambdaBasicExecutionRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"}


os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
with open(sys.argv[1]) as f:
    template = yaml_parse(f.read())
print(json.dumps(transform(template, {}, Policies()), indent=1, sort_keys=True))
