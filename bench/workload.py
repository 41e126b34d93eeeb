"""Benchmark inputs: CSV files of numeric rows and a scikit-learn RandomForest, with fixed seeds.

    python bench/workload.py --files 200 --rows 5000 --features 20   # writes bench/.work/data-200x5000x20/

A workload folder holds ``inputs/part-NNNNN.csv`` (header ``f0..fN``, float rows) and
``model/model.joblib`` (``RandomForestClassifier(n_estimators=50, max_depth=8)`` trained on 2,000
synthetic rows). It is reused when it already exists with the same parameters.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path

WORK = Path(__file__).resolve().parent / ".work"
SEED = 20240601


def train_model(features: int, path: Path, *, trees: int = 50, depth: int = 8, train_rows: int = 2000) -> None:
    import joblib
    import numpy as np
    from sklearn.ensemble import RandomForestClassifier

    rng = np.random.default_rng(SEED)
    x = rng.normal(size=(train_rows, features))
    weights = rng.normal(size=features)
    y = (x @ weights + 0.5 * rng.normal(size=train_rows) > 0).astype(int)
    model = RandomForestClassifier(n_estimators=trees, max_depth=depth, random_state=SEED, n_jobs=1)
    model.fit(x, y)
    path.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, path)


def write_csvs(folder: Path, files: int, rows: int, features: int) -> None:
    import numpy as np

    folder.mkdir(parents=True, exist_ok=True)
    header = ",".join(f"f{i}" for i in range(features))
    for n in range(files):
        rng = np.random.default_rng(SEED + 1 + n)
        block = rng.normal(size=(rows, features))
        # np.savetxt is slow; format the whole block at once.
        fmt = ",".join(["%.5f"] * features)
        body = "\n".join(fmt % tuple(r) for r in block.tolist())
        (folder / f"part-{n:05d}.csv").write_text(header + "\n" + body + "\n")


def workload(files: int = 200, rows: int = 5000, features: int = 20, *, trees: int = 50, depth: int = 8) -> Path:
    """The workload folder (created on first use)."""
    params = {"files": files, "rows": rows, "features": features, "trees": trees, "depth": depth, "seed": SEED}
    root = WORK / f"data-{files}x{rows}x{features}"
    marker = root / "workload.json"
    if marker.exists() and json.loads(marker.read_text()) == params:
        return root
    shutil.rmtree(root, ignore_errors=True)
    started = time.perf_counter()
    train_model(features, root / "model" / "model.joblib", trees=trees, depth=depth)
    write_csvs(root / "inputs", files, rows, features)
    marker.write_text(json.dumps(params))
    print(f"workload {root.name} written in {time.perf_counter() - started:.1f} s")
    return root


def tiny_files(count: int, *, per_folder: int = 0, content: str = "x\n") -> Path:
    """``count`` small files (in sub-folders of ``per_folder`` files when it is set); reused when present."""
    name = f"tiny-{count}" + (f"-in-{per_folder}" if per_folder else "")
    root = WORK / name
    marker = root.parent / f"{name}.done"
    if marker.exists():
        return root
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    started = time.perf_counter()
    data = content.encode()
    folder = str(root)
    for i in range(count):
        if per_folder and i % per_folder == 0:
            folder = os.path.join(root, f"d{i // per_folder:05d}")
            os.mkdir(folder)
        fd = os.open(os.path.join(folder, f"f{i:07d}"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        if data:
            os.write(fd, data)
        os.close(fd)
    marker.write_text(str(count))
    print(f"{count} files written under {root.name} in {time.perf_counter() - started:.1f} s")
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--features", type=int, default=20)
    args = parser.parse_args()
    print(workload(args.files, args.rows, args.features))


if __name__ == "__main__":
    main()
