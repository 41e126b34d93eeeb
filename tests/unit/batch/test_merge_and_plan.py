from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import select

from batchpoint.batch import merge
from batchpoint.batch.ledger import Batch, Ledger, Superseded
from batchpoint.batch.plan import PlanReader, write_plan
from batchpoint.components.minibatch import parse_size
from batchpoint.errors import Conflict
from batchpoint.runtime.formatting import write_part
from batchpoint.store import Database
from batchpoint.store.tables import JobRow, MiniBatchRow


def test_merge_writes_header_once_in_order_and_never_overwrites(tmp_path: Path) -> None:
    parts = []
    for i, (header, body) in enumerate([("a,b", "1,2\n"), (None, ""), ("a,b", "3,4\n")]):
        path = tmp_path / f"{i}.part"
        write_part(str(path), header, body)
        parts.append(str(path))
    target = tmp_path / "out" / "predictions.csv"
    merge.merge_parts(parts, target)
    assert target.read_text() == "a,b\n1,2\n3,4\n"
    assert sorted(os.listdir(target.parent)) == ["predictions.csv"]
    with pytest.raises(Conflict):
        merge.merge_parts(parts, target)
    assert target.read_text() == "a,b\n1,2\n3,4\n"


def test_check_parts_finds_missing_and_truncated(tmp_path: Path) -> None:
    good = tmp_path / "g.part"
    good.write_text("abc")
    assert merge.check_parts([(0, str(good), 3), (1, str(good), 4), (2, str(tmp_path / "none"), 1)]) == [1, 2]


def _db_with_job(tmp_path: Path) -> tuple[Database, int]:
    db = Database(f"sqlite:///{tmp_path / 'm.db'}")
    with db.session() as s:
        s.add(JobRow(name="j", state="Running", spec={}, driver_epoch=1))
    with db.read() as s:
        job_id = s.scalar(select(JobRow.id))
    assert job_id is not None
    return db, job_id


def test_plan_streams_files_into_minibatches(tmp_path: Path) -> None:
    db, job_id = _db_with_job(tmp_path)
    files = [f"/data/f{i}.csv" for i in range(23)] + ["/data/odd\nname.csv"]
    n_batches, n_files = write_plan(db, job_id, iter(files), tmp_path / "plan.jsonl", 5)
    assert (n_batches, n_files) == (5, 24)
    with db.read() as s:
        rows = s.scalars(select(MiniBatchRow).order_by(MiniBatchRow.idx)).all()
        reader = PlanReader(tmp_path / "plan.jsonl")
        assert [r.count for r in rows] == [5, 5, 5, 5, 4]
        assert reader.files(rows[4].offset, rows[4].count)[-1] == "/data/odd\nname.csv"
        assert reader.files(rows[1].offset, 2) == ["/data/f5.csv", "/data/f6.csv"]
        reader.close()


def test_plan_by_size_groups_files_up_to_the_byte_budget(tmp_path: Path) -> None:
    db, job_id = _db_with_job(tmp_path)
    sizes = [400, 400, 400, 2000, 100, 100]  # the 2000-byte file is larger than the budget: alone
    files = []
    for i, size in enumerate(sizes):
        path = tmp_path / f"f{i}"
        path.write_bytes(b"x" * size)
        files.append(str(path))
    n_batches, n_files = write_plan(db, job_id, iter(files), tmp_path / "plan.jsonl", 10, max_bytes=1000)
    assert (n_batches, n_files) == (4, 6)
    with db.read() as s:
        rows = s.scalars(select(MiniBatchRow).order_by(MiniBatchRow.idx)).all()
        assert [r.count for r in rows] == [2, 1, 1, 2]
        reader = PlanReader(tmp_path / "plan.jsonl")
        assert reader.files(rows[3].offset, rows[3].count) == files[4:]
        reader.close()


def test_mini_batch_sizes_parse_as_counts_or_bytes() -> None:
    assert parse_size(10) == (10, None) and parse_size("7") == (7, None)
    assert parse_size("10kb") == (None, 10240) and parse_size("1.5MB") == (None, 1572864)
    for bad in ("ten", "0", "-1kb", True, "10 tb"):
        with pytest.raises(ValueError, match="mini_batch_size"):
            parse_size(bad)  # type: ignore[arg-type]


def test_ledger_commit_is_a_compare_and_set_and_epochs_fence(tmp_path: Path) -> None:
    db, job_id = _db_with_job(tmp_path)
    write_plan(db, job_id, iter(["/a", "/b"]), tmp_path / "plan.jsonl", 1)
    ledger = Ledger(db, job_id, epoch=1)
    ledger.apply(Batch(leases=[{"idx": 0, "token": "t1", "worker": "w1"}]), {"heartbeat_at": 1.0})
    commit = {
        "idx": 0,
        "token": "old",
        "worker": "w1",
        "items_ok": 1,
        "items_failed": 0,
        "part": "p",
        "part_size": 1,
        "elapsed": 0.1,
    }
    assert ledger.apply(Batch(commits=[commit]), {"heartbeat_at": 2.0}) == {"old"}
    assert ledger.apply(Batch(commits=[{**commit, "token": "t1"}]), {"heartbeat_at": 3.0}) == set()
    assert ledger.apply(Batch(commits=[{**commit, "token": "t1"}]), {"heartbeat_at": 4.0}) == {"t1"}
    assert ledger.totals()["mb_done"] == 1
    with db.session() as s:
        s.query(JobRow).update({JobRow.driver_epoch: 2})
    with pytest.raises(Superseded):
        ledger.apply(Batch(), {"heartbeat_at": 5.0})
    newer = Ledger(db, job_id, epoch=2)
    newer.apply(Batch(leases=[{"idx": 1, "token": "t2", "worker": "w2"}]), {"heartbeat_at": 6.0})
    assert newer.reset_in_flight() == 1
    assert [p.idx for p in newer.fetch_pending(-1)] == [1]
