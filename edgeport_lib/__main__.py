import sys

from edgeport_lib.cli import main

sys.exit(main())
