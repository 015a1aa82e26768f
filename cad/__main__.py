import sys

from cad.cli import main

sys.exit(main())
