"""Entry script of the bundle's `rekurator` executable (the window's is the repository's main.py)."""

from app.cli.main import main

raise SystemExit(main())
