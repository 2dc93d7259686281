"""python -m runtime.motion show FILE --png OUT.png: a clip's joint-angle image and poses (runtime/cli.py)."""

import sys

from ..cli import motion_main

sys.exit(motion_main())
