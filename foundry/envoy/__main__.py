import sys

from . import lean

lean.mark_baseline()

from .cli import main  # noqa: E402

sys.exit(main())
