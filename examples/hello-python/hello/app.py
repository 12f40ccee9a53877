"""GET /hello: greets from the stack's stage, by name when ?name= is given."""

import os

from markupsafe import escape


def greeting(stage: str, name: str | None) -> str:
    """The page's HTML: the name, when given, is escaped."""
    who = f", {escape(name)}" if name else ""
    return f"<p>hello from {escape(stage)}{who}</p>"


def handler(event, context):
    """Answers an HTTP API (payload 2.0) request."""
    params = event.get("queryStringParameters") or {}
    return {
        "statusCode": 200,
        "headers": {"content-type": "text/html; charset=utf-8"},
        "body": greeting(os.environ.get("STAGE", "dev"), params.get("name")),
    }
