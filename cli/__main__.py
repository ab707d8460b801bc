"""`python -m cli`: the `vouchgraph` command line."""

import sys

from cli.main import main

sys.exit(main())
