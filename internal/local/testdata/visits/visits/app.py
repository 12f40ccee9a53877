"""GET /hello: a greeting and the number of attributes of the "visits" item
of the function's table, read with the function's own role.

It signs its one DynamoDB request with Signature Version 4 itself, with the
standard library only, so that the app needs no package to build.
"""

import datetime
import hashlib
import hmac
import json
import os
import urllib.request


def _sign(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def dynamodb(operation, body):
    """Calls a DynamoDB operation as the function's role."""
    region = os.environ["AWS_REGION"]
    endpoint = os.environ.get("AWS_ENDPOINT_URL", f"https://dynamodb.{region}.amazonaws.com")
    host = urllib.request.urlparse(endpoint).netloc
    payload = json.dumps(body).encode()
    now = datetime.datetime.now(datetime.timezone.utc)
    amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    headers = {
        "content-type": "application/x-amz-json-1.0",
        "host": host,
        "x-amz-date": amz_date,
        "x-amz-target": "DynamoDB_20120810." + operation,
    }
    token = os.environ.get("AWS_SESSION_TOKEN")
    if token:
        headers["x-amz-security-token"] = token
    signed = ";".join(sorted(headers))
    canonical = "\n".join([
        "POST", "/", "",
        "".join(f"{k}:{headers[k]}\n" for k in sorted(headers)),
        signed, hashlib.sha256(payload).hexdigest(),
    ])
    scope = f"{day}/{region}/dynamodb/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = ("AWS4" + os.environ["AWS_SECRET_ACCESS_KEY"]).encode()
    for part in (day, region, "dynamodb", "aws4_request"):
        key = _sign(key, part)
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={os.environ['AWS_ACCESS_KEY_ID']}/{scope}, "
        f"SignedHeaders={signed}, Signature={signature}"
    )
    req = urllib.request.Request(endpoint + "/", data=payload, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return json.load(resp)
    except urllib.error.HTTPError as e:
        error = json.load(e)
        raise PermissionError(f"{operation}: {error.get('__type')}: {error.get('message')}") from None


def handler(event, context):
    item = dynamodb("GetItem", {"TableName": os.environ["TABLE"], "Key": {"id": {"S": "visits"}}}).get("Item", {})
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "text/plain; charset=utf-8"},
        "body": f"hello from {os.environ['STAGE']}, {len(item)} items recorded\n",
    }
