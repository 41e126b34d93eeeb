"""Compiling a deployment's scoring script when the deployment is created or updated.

A script that does not compile fails every job of the deployment when its first worker loads it;
saying so at ``batch-deployment create`` saves the user that job. The script is compiled, never
imported: user code does not run in the CLI's or the server's process. It is a warning, not an
error: jobs run the script in the deployment's environment, whose Python may accept what this one
does not (or the reverse).

The warning is a Python warning (``ScriptWarning``), so that SDK users see it as any library's; the
CLI prints it as ``WARNING: ...``.
"""

from __future__ import annotations

import platform
import warnings

from batchpoint.artifacts.store import ArtifactStore
from batchpoint.endpoints import snapshot
from batchpoint.endpoints.schemas import BatchDeployment, CodeConfiguration


class ScriptWarning(UserWarning):
    """A deployment's scoring script will not load; the deployment was created all the same."""


def problem(store: ArtifactStore, code: CodeConfiguration) -> str | None:
    """Why the snapshot's scoring script does not compile, in words naming the file and the line; None if it does."""
    digest = code.code.removeprefix(snapshot.PREFIX)
    manifest = store.manifest(digest)
    entry = next((e for e in manifest.entries if e.path == code.scoring_script), None)
    if entry is None:
        return None
    source = store.read_entry(entry)
    script = code.scoring_script
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarnings (an invalid escape) are the script's own business
            compile(source, script, "exec", dont_inherit=True)
    except SyntaxError as exc:
        where = f" at line {exc.lineno}" if exc.lineno else ""
        cause = f"{type(exc).__name__}{where}: {exc.msg}"
    except ValueError as exc:  # a null byte in the source
        cause = f"{type(exc).__name__}: {exc}"
    else:
        return None
    return (
        f"{script} does not compile: {cause}; jobs of this deployment will fail until it is fixed "
        f"(compiled with Python {platform.python_version()}; the deployment's environment may differ)"
    )


def warn_if_broken(store: ArtifactStore, deployment: BatchDeployment) -> None:
    """Issue a ``ScriptWarning`` if the deployment's scoring script does not compile."""
    if deployment.code_configuration is None:
        return
    message = problem(store, deployment.code_configuration)
    if message is not None:
        warnings.warn(message, ScriptWarning, stacklevel=3)
