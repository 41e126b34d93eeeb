"""A stand-in training script: writes its arguments to the output folder."""

import sys
from pathlib import Path

args = sys.argv[1:]
out = Path(args[args.index("--out") + 1])
out.mkdir(parents=True, exist_ok=True)
(out / "args.txt").write_text(" ".join(args))
