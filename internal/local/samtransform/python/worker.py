"""stackflow's worker for SAM's translator (PyPI aws-sam-translator).

It reads one JSON request a line on stdin and answers each with one JSON
line on stdout, in order:

    request:  {"id": 1, "template": {...}, "parameters": {...}, "region": "us-east-1"}
    answer:   {"id": 1, "template": {...}}            the template, translated
              {"id": 1, "error": "Invalid Serverless Application Specification document. ..."}
              {"id": 1, "internal": "KeyError: ..."}   the translator itself failed

The translation is the one AWS's hosted transform runs (samtranslator's
transform(): the Python 2.7 hash compatibility around Translator.translate)
with the managed policy map bundled with the translator: no AWS call is
made. The first line it writes is {"ready": "<aws-sam-translator version>"}.
"""

import json
import sys
import traceback


def main():
    # stdout carries the answers: anything else the translator prints goes
    # to stderr.
    out = sys.stdout
    sys.stdout = sys.stderr

    import boto3
    import samtranslator
    from samtranslator.model.exceptions import InvalidDocumentException
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator
    from samtranslator.utils.py27hash_fix import (
        to_py27_compatible_template,
        undo_mark_unicode_str_in_template,
    )

    sessions = {}

    def session(region):
        # A session only tells the translator its region (and partition):
        # it makes no call.
        if region not in sessions:
            sessions[region] = boto3.session.Session(region_name=region)
        return sessions[region]

    def no_managed_policies():
        # The translator looks managed policies up in the map it bundles
        # first; this stands in for the IAM ListPolicies call it makes for
        # names that map does not know, which then stay as they are.
        return {}

    def translate(req):
        template = req["template"]
        parameters = dict(req.get("parameters") or {})
        to_py27_compatible_template(template, parameters)
        translator = Translator(None, Parser(), boto_session=session(req["region"]))
        translated = translator.translate(
            template,
            parameter_values=parameters,
            get_managed_policy_map=no_managed_policies,
        )
        return undo_mark_unicode_str_in_template(translated)

    def answer(msg):
        out.write(json.dumps(msg, separators=(",", ":")) + "\n")
        out.flush()

    answer({"ready": samtranslator.__version__})
    for line in sys.stdin:
        if not line.strip():
            continue
        req_id = None
        try:
            req = json.loads(line)
            req_id = req.get("id")
            answer({"id": req_id, "template": translate(req)})
        except InvalidDocumentException as e:
            # Worded as the hosted transform words it, which CloudFormation
            # puts after "Transform AWS::Serverless-2016-10-31 failed with: ".
            answer({"id": req_id, "error": " ".join([e.message] + [c.message for c in e.causes])})
        except Exception as e:  # noqa: BLE001 - every failure is answered
            traceback.print_exc()
            answer({"id": req_id, "internal": "%s: %s" % (type(e).__name__, e)})


if __name__ == "__main__":
    main()
