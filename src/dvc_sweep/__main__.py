"""Allow ``python -m dvc_sweep``."""

import sys

from dvc_sweep.cli import main

sys.exit(main())
