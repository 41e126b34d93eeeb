"""A stand-in scoring step: copies the input file names to the output folder."""

import argparse
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("--data_path")
parser.add_argument("--score_mode", default="append")
parser.add_argument("--scores_path")
args = parser.parse_args()
out = Path(args.scores_path)
out.mkdir(parents=True, exist_ok=True)
names = sorted(p.name for p in Path(args.data_path).iterdir())
(out / "scores.csv").write_text("\n".join(names) + "\n")
