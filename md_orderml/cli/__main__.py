"""``python -m md_orderml.cli``."""

import sys

from md_orderml.cli import main

sys.exit(main())
