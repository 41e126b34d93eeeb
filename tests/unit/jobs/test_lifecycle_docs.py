"""The job state machine is written down once: the table in ``jobs/lifecycle.py``, printed alike in both docs."""

from __future__ import annotations

import re
from pathlib import Path

from batchpoint.jobs.lifecycle import TRANSITIONS, Actor, markdown_table
from batchpoint.jobs.schemas import JobState

DOCS = Path(__file__).resolve().parents[3] / "docs"
BLOCK = re.compile(r"<!-- job-state-machine:.*?<!-- /job-state-machine -->", re.S)


def _block(page: str) -> str:
    found = BLOCK.findall((DOCS / page).read_text())
    assert len(found) == 1, f"docs/{page} must hold the state machine block once"
    return str(found[0])


def test_concepts_and_jobs_print_the_same_state_machine_as_the_code() -> None:
    concepts, jobs = _block("concepts.md"), _block("jobs.md")
    assert concepts == jobs
    assert markdown_table() in concepts


def test_final_states_have_no_way_out_and_failed_only_by_the_users_resume() -> None:
    for t in TRANSITIONS.values():
        sources = set(t.moves) | set(t.keeps)
        assert not sources & {JobState.completed, JobState.canceled}, t.action
        if JobState.failed in sources:
            assert (t.action, t.actors) == ("resume-failed", (Actor.user,))


def test_only_the_driver_honours_a_cancel_and_nothing_else_leaves_cancel_requested() -> None:
    leaving = [t.action for t in TRANSITIONS.values() if JobState.cancel_requested in t.moves]
    assert sorted(leaving) == ["cancel", "honour-cancel"]
    assert all(TRANSITIONS[a].target is JobState.canceled for a in leaving)
