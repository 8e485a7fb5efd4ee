"""`python -m chaos [--reduced]`."""

import sys

from chaos.cli import main

sys.exit(main())
