"""`python -m app.server [options]`: the same as `rekurator serve [options]`."""

import sys

from .main import serve_main

if __name__ == "__main__":
    sys.exit(serve_main(sys.argv[1:], prog="python -m app.server"))
