"""``python -m tracecad``: the command line."""

import sys

from tracecad.cli import main

sys.exit(main())
