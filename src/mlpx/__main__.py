"""``python -m mlpx <command>``: the commands are in ``mlpx._cli``."""

import sys

from ._cli import build_parser, main  # noqa: F401  (build_parser: for tests and docs)

if __name__ == "__main__":
    sys.exit(main())
