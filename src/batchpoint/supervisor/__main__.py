"""``python -m batchpoint.supervisor --workspace W``: the workspace's background supervisor (see process.py)."""

import sys

from batchpoint.supervisor.process import main

sys.exit(main())
