"""stackflow's stand-in for Lambda's /var/runtime/bootstrap.py.

Lambda's Python runtimes start a function with /var/runtime/bootstrap.py: it
puts the function's code (LAMBDA_TASK_ROOT) and its layers (/opt/python and
/opt/python/lib/pythonX.Y/site-packages) first on sys.path, unless the
function sets PYTHONPATH, and hands over to AWS's runtime interface client,
awslambdaric, which sits beside it. This does the same on a developer's
machine, with the layers in the function's own stand-in for /opt.

Usage: python3 -s bootstrap.py OPT VERSION

OPT is the stand-in for /opt ("" when the function has no layers); VERSION
is the runtime's Python version (3.12 for python3.12), which names the
layers' site-packages directory as Lambda's interpreter would.
"""

import os
import site
import sys


def main():
    opt, version = sys.argv[1], sys.argv[2]
    del sys.argv[1:]
    task_root = os.environ["LAMBDA_TASK_ROOT"]
    pythonpath_set = "PYTHONPATH" in os.environ
    layers = []
    if opt and not pythonpath_set:
        layers = [
            os.path.join(opt, "python", "lib", "python" + version, "site-packages"),
            os.path.join(opt, "python"),
        ]
    # Lambda's order: the code, the layers' site-packages, /opt/python.
    sys.path[0:0] = [task_root] + layers
    site.addsitedir(task_root)
    for layer in layers:
        site.addsitedir(layer)
    if not pythonpath_set:
        os.environ["PYTHONPATH"] = os.environ["LAMBDA_RUNTIME_DIR"]

    from awslambdaric import __main__ as awslambdaric

    awslambdaric.main([task_root, os.environ["_HANDLER"]])


if __name__ == "__main__":
    main()
