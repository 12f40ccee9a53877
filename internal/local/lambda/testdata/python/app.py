"""Handlers for the supervisor's tests of the Python runtimes."""

import os


def lambda_handler(event, context):
    return {"message": "hello " + event.get("name", "world")}


def context_handler(event, context):
    return {
        "env": {name: os.environ.get(name) for name in event["env"]},
        "context": {
            "aws_request_id": context.aws_request_id,
            "function_name": context.function_name,
            "function_version": context.function_version,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "invoked_function_arn": context.invoked_function_arn,
            "log_group_name": context.log_group_name,
            "remaining_time_within_timeout": 0 < context.get_remaining_time_in_millis() <= 30000,
        },
        "cwd": os.getcwd(),
    }


def fail(event, context):
    raise ValueError("no name given")


def layered(event, context):
    import greeting  # from the layer, under /opt/python

    return {"greeting": greeting.hello()}


def exit(event, context):
    if event.get("exit"):
        os._exit(3)
    return {"pid": os.getpid()}
