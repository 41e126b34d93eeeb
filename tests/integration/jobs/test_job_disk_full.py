"""A full disk fails the job with a plain reason, loses nothing, publishes nothing; resume finishes it."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import Env, read_output, write_inputs


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs (needs root, as CI has); skipped where mounting is not allowed."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], capture_output=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(mount: Path, leave: int) -> Path:
    filler = mount / "filler"
    free = shutil.disk_usage(mount).free
    filler.write_bytes(b"\0" * max(free - leave, 0))
    return filler


def test_full_output_disk_fails_cleanly_and_resume_completes(jobs: Env, small_disk: Path) -> None:
    expected = write_inputs(jobs.root / "data", 60, rows=40)  # ~60 KiB of output
    jobs.deploy(mini_batch_size=6, max_concurrency_per_instance=2)
    filler = _fill(small_disk, leave=8 * 1024)
    out = small_disk / "out"
    failed = jobs.wait(
        jobs.client.batch_endpoints.invoke("jobs-ep", input=str(jobs.root / "data"), output_path=str(out))
    )
    assert failed.status == "Failed"
    assert "no space left on device" in (failed.failure_reason or "")
    assert "job resume" in (failed.failure_reason or "")
    assert sorted(p.name for p in out.iterdir()) == []  # no partial or temporary output visible
    filler.unlink()
    resumed = jobs.client.jobs.resume(failed.name)
    final = jobs.wait(resumed)
    assert final.status == "Completed", final.message
    assert dict(read_output(out / "predictions.csv")) == expected
    assert len(read_output(out / "predictions.csv")) == len(expected)


def test_full_disk_for_part_files_fails_cleanly_and_resume_completes(jobs: Env, small_disk: Path) -> None:
    expected = write_inputs(jobs.root / "data", 60, rows=40)
    jobs.deploy(mini_batch_size=6, max_concurrency_per_instance=2)
    jobs_dir = jobs.client.workspace_path / "jobs"
    shutil.rmtree(jobs_dir)
    (small_disk / "jobs").mkdir()
    jobs_dir.symlink_to(small_disk / "jobs")
    filler = _fill(small_disk, leave=24 * 1024)
    failed = jobs.wait(jobs.client.batch_endpoints.invoke("jobs-ep", input=str(jobs.root / "data")))
    assert failed.status == "Failed", failed.message
    assert "no space left on device" in (failed.failure_reason or "")
    assert failed.progress.items.failed == 0  # a full disk is not the inputs' fault
    assert not Path(failed.outputs["score"].file or "").exists()
    filler.unlink()
    final = jobs.wait(jobs.client.jobs.resume(failed.name))
    assert final.status == "Completed", final.message
    rows = read_output(Path(final.outputs["score"].file or ""))
    assert len(rows) == len(expected) and dict(rows) == expected
