"""``python -m assistant.eval``: see the package's docstring."""

import sys

from .harness import main

sys.exit(main())
