"""`python -m monitor` is the same as the `monitor` command."""

import sys

from monitor.cli.main import main

if __name__ == "__main__":  # worker processes re-import this module: do nothing there
    sys.exit(main())
