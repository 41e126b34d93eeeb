"""Who runs user code: when batchpoint runs as root, workers drop to an unprivileged user.

A scoring script, its ``init()`` and the setup code of an environment's requirements are code from
whoever deployed them. A server or an embedded CLI started as root must not hand that code root:
it runs as ``BATCHPOINT_ENGINE_WORKER_USER`` (default: ``batchpoint`` when that user exists, else
``nobody``). ``root`` keeps it as root, on purpose (the driver logs a warning). A process that is not
root cannot change user, so nothing here does anything then.

Dropping is only useful if the job still runs: the worker user must read the code, the model, the
input and the interpreter, and write its own folders. ``grant`` hands it the folders a job writes;
``require`` checks the rest before a worker starts, so a job fails with a sentence naming the folder
in the way instead of a traceback from inside a worker.

Standard library only (and ``batchpoint.errors``): a driver resolves the identity before its heavy
imports, to start workers early (see ``executors/launch.py``). No setting is read here: callers pass
``worker_user`` in (``configured_user`` reads it through ``batchpoint.config`` for those without one).
"""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import grp
import os
import pwd
import stat
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from batchpoint.errors import InvalidInput

WORKER_USER_VARIABLE = "BATCHPOINT_ENGINE_WORKER_USER"
DEFAULT_USERS = ("batchpoint", "nobody")
KEEP_ROOT = "root"
WORKER_UMASK = 0o027
"""Files user code writes are not for other local accounts; the driver, as root, reads them anyway."""
_UNSET = ("", "None")  # "None": str(None), an unset setting passed on as text
_SESSION_VARIABLES = (
    "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_RUNTIME_DIR", "MAIL",
)  # fmt: skip
"""Root's per-session folders: the worker user cannot write them, so they are left out of its environment."""

Access = Literal["read", "write", "run"]
_R, _W, _X = 4, 2, 1


@dataclass(frozen=True)
class WorkerIdentity:
    """The user workers run as, and the home folder they get."""

    uid: int
    gid: int
    name: str
    home: Path
    groups: tuple[int, ...] = ()
    """The user's own supplementary groups (as a login would get them), never root's."""

    @property
    def label(self) -> str:
        return f"'{self.name}' (uid {self.uid})"

    def popen_options(self) -> dict[str, Any]:
        """``subprocess.Popen`` arguments that start a process as this user (and none of root's groups)."""
        return {"user": self.uid, "group": self.gid, "extra_groups": list(self.groups)}

    def for_job(self, job_dir: Path) -> WorkerIdentity:
        """This identity with a home it can write: its own when that is a folder it owns, else ``job_dir/home``.

        ``nobody`` (home ``/nonexistent``) and a system user made with ``--no-create-home`` have no
        usable home, and libraries that cache under ``~`` would fail without one.
        """
        try:
            own = self.home.stat()
            if stat.S_ISDIR(own.st_mode) and own.st_uid == self.uid:
                return self
        except OSError:
            pass
        return dataclasses.replace(self, home=job_dir / "home")


def configured_user() -> str | None:
    """``EngineSettings.worker_user`` as this process's settings read it now.

    For callers without a ``Settings`` object at hand; code that has one (``ctx.settings``) passes its
    ``engine.worker_user`` instead. It imports the settings (pydantic): a driver that prestarts
    workers takes the setting from the launch plan instead (``launch.prestart``).
    """
    from batchpoint.config import EngineSettings

    return EngineSettings().worker_user


def running_as_root() -> bool:
    return os.geteuid() == 0


def keeps_root(setting: str | None) -> bool:
    """Whether this root process was told to keep workers as root (the explicit, logged opt-out)."""
    return running_as_root() and _normalise(setting) == KEEP_ROOT


def worker_identity(setting: str | None) -> WorkerIdentity | None:
    """Who workers run as; None when they run as this process (not root, or ``root`` asked for).

    Raises ``InvalidInput`` when the setting names a user this machine does not have.
    """
    if not running_as_root():
        return None
    name = _normalise(setting)
    if name == KEEP_ROOT:
        return None
    entry = _lookup(name) if name is not None else _default_user()
    if entry.pw_uid == 0:  # another name for root: nothing to drop to
        return None
    groups = tuple(g for g in os.getgrouplist(entry.pw_name, entry.pw_gid) if g != entry.pw_gid)
    return WorkerIdentity(entry.pw_uid, entry.pw_gid, entry.pw_name, Path(entry.pw_dir or "/nonexistent"), groups)


def for_job(setting: str | None, job_dir: Path) -> WorkerIdentity | None:
    """``worker_identity`` with the home the job's workers get (see ``WorkerIdentity.for_job``)."""
    identity = worker_identity(setting)
    return identity.for_job(job_dir) if identity is not None else None


def _normalise(setting: str | None) -> str | None:
    if setting is None or setting.strip() in _UNSET:
        return None
    return setting.strip()


def _lookup(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwuid(int(name)) if name.isdigit() else pwd.getpwnam(name)
    except (KeyError, OverflowError):
        raise InvalidInput(
            f"{WORKER_USER_VARIABLE} is '{name}', but this machine has no such user to run workers as",
            hint=f"create that user, or set {WORKER_USER_VARIABLE} to an existing one (unset: "
            f"'{DEFAULT_USERS[0]}' when it exists, else '{DEFAULT_USERS[1]}')",
        ) from None


def _default_user() -> pwd.struct_passwd:
    for name in DEFAULT_USERS:
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise InvalidInput(
        f"batchpoint runs as root, so workers run as an unprivileged user, but this machine has neither "
        f"'{DEFAULT_USERS[0]}' nor '{DEFAULT_USERS[1]}'",
        hint=f"create one (useradd --system --no-create-home --shell /usr/sbin/nologin {DEFAULT_USERS[0]}) "
        f"or set {WORKER_USER_VARIABLE} to an existing user",
    )


# -- what the worker gets ----------------------------------------------------------------------------
def user_environment(env: Mapping[str, str], identity: WorkerIdentity) -> dict[str, str]:
    """``env`` for a process of ``identity``: its HOME and names, without root's session folders."""
    result = {k: v for k, v in env.items() if k not in _SESSION_VARIABLES}
    result.update(HOME=str(identity.home), USER=identity.name, LOGNAME=identity.name)
    return result


def grant(identity: WorkerIdentity | None, *folders: Path) -> None:
    """Create ``folders`` and give them to ``identity`` (not what is inside): the places its workers write.

    Nothing happens when workers run as this process (``identity`` None).
    """
    if identity is None:
        return
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
        st = folder.stat()
        if (st.st_uid, st.st_gid) != (identity.uid, identity.gid):
            os.chown(folder, identity.uid, identity.gid)


# -- can it read what it needs? ------------------------------------------------------------------------
@dataclass(frozen=True)
class Need:
    """Something a worker uses: ``label`` names it in messages (``the model folder``)."""

    label: str
    path: Path
    access: Access = "read"


def require(identity: WorkerIdentity | None, needs: Iterable[Need]) -> None:
    """Raise ``InvalidInput`` naming each thing ``identity`` cannot use, the folder in the way and the remedy."""
    if identity is None:
        return
    found = problems(identity, needs)
    if not found:
        return
    example = found[0][2]  # the first folder (or file) in the way
    raise InvalidInput(
        f"batchpoint runs as root, so workers run as the unprivileged user {identity.label}, and that user "
        "cannot use what the job needs: " + "; ".join(f"{need.label} {need.path} ({why})" for need, why, _ in found),
        hint=f"give '{identity.name}' access (for example 'setfacl -m u:{identity.name}:rx {example}' or "
        f"'chmod o+rx {example}'), move the files somewhere it can read, or set {WORKER_USER_VARIABLE} to a "
        f"user that can read them ('{KEEP_ROOT}' keeps workers as root)",
    )


def problems(identity: WorkerIdentity, needs: Iterable[Need]) -> list[tuple[Need, str, Path]]:
    """What ``identity`` cannot use: (need, why, the folder or file in the way).

    Judged from permission bits along each path (a few ``stat`` calls: this is on every job's start
    path). ``os.access`` would answer for root, not for the worker. Bits can be wrong the other way,
    when an ACL grants access: what they deny is confirmed by asking the user itself (a shell run as
    it), which costs a process start only when something looks wrong.
    """
    suspects: list[tuple[Need, str, Path]] = []
    for need in needs:
        found = _blocked(identity, need)
        if found is not None:
            suspects.append((need, *found))
    if not suspects:
        return []
    denied = _confirm(identity, [need for need, _, _ in suspects])
    return [suspect for suspect in suspects if suspect[0] in denied]


def _blocked(identity: WorkerIdentity, need: Need) -> tuple[str, Path] | None:
    """Why the permission bits keep ``identity`` from ``need`` (and where), or None."""
    target = _static_part(need.path)
    spellings = dict.fromkeys([Path(os.path.abspath(target)), Path(os.path.realpath(target))])
    for path in spellings:  # the kernel walks both the path as written and where its links lead
        for folder in reversed(path.parents):
            st = _stat(folder)
            if st is None:
                return None  # missing: not a permission problem (whoever reads it next says so)
            if not _allowed(st, identity, _X):
                return f"it cannot enter the folder {folder}: {_describe(st)}", folder
        st = _stat(path)
        if st is None:
            return None
        if not _allowed(st, identity, _bits(need.access, st)):
            verb = {"read": "read", "write": "write to", "run": "run"}[need.access]
            return f"it cannot {verb} it: {_describe(st)}", path
    return None


def _static_part(path: Path) -> Path:
    """A glob pattern's folder part (``/data/*.csv`` → ``/data``): what can be checked before listing."""
    parts = path.parts
    for i, part in enumerate(parts):
        if glob.has_magic(part):
            return Path(*parts[:i]) if i else Path(".")
    return path


def _stat(path: Path) -> os.stat_result | None:
    try:
        return os.stat(path)
    except OSError:
        return None


def _bits(access: Access, st: os.stat_result) -> int:
    folder = stat.S_ISDIR(st.st_mode)
    if access == "run":
        return _X
    if access == "write":
        return _W | _X if folder else _W
    return _R | _X if folder else _R


def _allowed(st: os.stat_result, identity: WorkerIdentity, bits: int) -> bool:
    """The kernel's rule: the owner's bits if it owns it, else the group's if in the group, else the others'."""
    if st.st_uid == identity.uid:
        have = st.st_mode >> 6
    elif st.st_gid == identity.gid or st.st_gid in identity.groups:
        have = st.st_mode >> 3
    else:
        have = st.st_mode
    return have & bits == bits


def _describe(st: os.stat_result) -> str:
    return f"{stat.filemode(st.st_mode)} {_user_name(st.st_uid)}:{_group_name(st.st_gid)}"


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


_PROBE = """
for arg do
  modes=${arg%%:*}; path=${arg#*:}
  for m in r w x; do
    case $modes in *$m*) test -$m "$path" || { printf '%s\\n' "$arg"; break; } ;; esac
  done
done
"""
"""Prints each ``modes:path`` argument the user running it may not use in every one of ``modes``."""


def _confirm(identity: WorkerIdentity, needs: Sequence[Need]) -> set[Need]:
    """The needs a shell running as ``identity`` also finds denied (all of them if it cannot run)."""
    args: dict[str, list[Need]] = {}
    for need in needs:
        target = _static_part(need.path)
        st = _stat(target)
        folder = st is not None and stat.S_ISDIR(st.st_mode)
        modes = {"run": "x", "write": "wx" if folder else "w", "read": "rx" if folder else "r"}[need.access]
        args.setdefault(f"{modes}:{target}", []).append(need)
    try:
        proc = subprocess.run(
            ["/bin/sh", "-c", _PROBE, "sh", *args], capture_output=True, text=True, timeout=30, cwd="/",
            env={"PATH": os.defpath}, **identity.popen_options(),
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return set(needs)
    if proc.returncode != 0:
        return set(needs)
    printed = set(proc.stdout.splitlines())
    # A path with a newline in it cannot be told apart in the output: it stays denied.
    return {need for key, group in args.items() if key in printed or "\n" in key for need in group}


def python_problem(identity: WorkerIdentity, *extra: Need) -> tuple[Need, str] | None:
    """What keeps ``identity`` from running this interpreter and batchpoint (and ``extra``), or None.

    The demo and the worker-user tests ask this before they rely on the drop (a Python installed
    under a 0700 home folder cannot be run by another user).
    """
    src = Path(__file__).resolve().parent.parent.parent
    needs = [Need("this Python", Path(sys.executable), "run"), Need("batchpoint", src), *extra]
    found = problems(identity, needs)
    return (found[0][0], found[0][1]) if found else None
