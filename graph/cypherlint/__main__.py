"""`python -m graph.cypherlint`: lint every query; `--install` installs the front end first."""

import sys

from graph.cypherlint import main

sys.exit(main())
