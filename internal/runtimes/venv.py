# A virtual environment with pip, made quickly: see venv.go.
import glob
import os
import sys
import venv
import zipfile

target = sys.argv[1]
wheels = []
try:
    import ensurepip

    wheels = sorted(glob.glob(os.path.join(os.path.dirname(ensurepip.__file__), "_bundled", "pip-*.whl")))
except ImportError:
    pass
if not wheels:
    venv.EnvBuilder(with_pip=True, symlinks=True, clear=True).create(target)
    sys.exit(0)

venv.EnvBuilder(with_pip=False, symlinks=True, clear=True).create(target)
version = "%d.%d" % sys.version_info[:2]
site = os.path.join(target, "lib", "python" + version, "site-packages")
with zipfile.ZipFile(wheels[-1]) as wheel:
    wheel.extractall(site)
for info in glob.glob(os.path.join(site, "pip-*.dist-info")):
    with open(os.path.join(info, "INSTALLER"), "w") as f:
        f.write("stackflow\n")
python = os.path.join(os.path.abspath(target), "bin", "python")
for name in ("pip", "pip3", "pip" + version):
    path = os.path.join(target, "bin", name)
    with open(path, "w") as f:
        f.write("#!%s\nimport sys\nfrom pip._internal.cli.main import main\nsys.exit(main())\n" % python)
    os.chmod(path, 0o755)
