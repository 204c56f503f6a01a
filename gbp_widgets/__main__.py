"""``python -m gbp_widgets ...``: the command line, where the ``gbp-widgets`` script is not on
the PATH (a notebook's shell, a bare virtual environment)."""

import sys

from gbp_widgets.cli import main

sys.exit(main())
