def handler(event, context):
    return {"where": "src/app.py"}
