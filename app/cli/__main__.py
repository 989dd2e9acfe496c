"""`python -m app.cli ...` runs the rekurator command line."""

import sys

from app.cli.main import main

sys.exit(main())
