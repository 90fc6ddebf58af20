"""EdgePort: `python edgeport.py config.yaml`."""

import sys

from edgeport_lib.cli import main

if __name__ == "__main__":
    sys.exit(main())
