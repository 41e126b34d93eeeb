"""The script a user writes instead of a batch endpoint: a ``multiprocessing.Pool`` over the files.

    python bench/pool_user_script.py INPUT_DIR OUTPUT.csv MODEL.joblib [--workers 2] [--chunksize 4]

``Pool(2)`` with Python's default start method (fork on Linux), an initializer that loads the model
once per pool process (``pool_scorer.init``), and per file: read the CSV with pandas, ``predict``,
render the file's ``file,prediction`` rows as CSV text in the pool process (``pool_scorer.predict_csv``).
The parent writes them, in file order, to one CSV with a header, which it fsyncs: the same deliverable
as a batchpoint job's ``predictions.csv``. ``bench/bench_user.py`` runs it as a whole process and
times it from the outside.

With ``BENCH_STATE`` set, it stamps (``time.time()``, outside the scored work) when its imports were
done (``script-<pid>``), when each pool process had loaded the model (``ready-<pid>``), the first and
the last result (``first-<pid>``, ``last-<pid>``), for the benchmark's time breakdown.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from multiprocessing import Pool
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pool_scorer


def _stamp(state: str | None, what: str, value: float) -> None:
    if state:
        with open(os.path.join(state, f"{what}-{os.getpid()}"), "w") as fh:
            fh.write(repr(value))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs")
    parser.add_argument("output")
    parser.add_argument("model")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunksize", type=int, default=4)
    args = parser.parse_args()
    state = os.environ.get("BENCH_STATE")
    _stamp(state, "script", time.time())
    files = sorted(os.path.join(args.inputs, name) for name in os.listdir(args.inputs))
    rows = 0
    t_first = None
    pool = Pool(args.workers, initializer=pool_scorer.init, initargs=(args.model, state))
    with pool, open(args.output, "w") as out:
        out.write("file,prediction\n")
        for text in pool.imap(pool_scorer.predict_csv, files, chunksize=args.chunksize):
            t_first = t_first or time.time()
            out.write(text)
            rows += text.count("\n")
        out.flush()
        os.fsync(out.fileno())
    _stamp(state, "first", t_first or time.time())
    _stamp(state, "last", time.time())
    print(f"{rows} rows from {len(files)} files written to {args.output}")


if __name__ == "__main__":
    main()
