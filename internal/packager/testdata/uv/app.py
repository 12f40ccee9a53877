import docopt
import markupsafe


def handler(event, context):
    return str(markupsafe.escape(docopt.__version__))
