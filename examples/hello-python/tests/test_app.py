import app


def test_greets_from_the_stage(monkeypatch):
    monkeypatch.setenv("STAGE", "staging")
    got = app.handler({"rawPath": "/hello"}, None)
    assert got["statusCode"] == 200
    assert got["body"] == "<p>hello from staging</p>"


def test_escapes_the_name(monkeypatch):
    monkeypatch.setenv("STAGE", "prod")
    got = app.handler({"queryStringParameters": {"name": "<b>Ada</b>"}}, None)
    assert got["body"] == "<p>hello from prod, &lt;b&gt;Ada&lt;/b&gt;</p>"
