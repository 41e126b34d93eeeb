"""Import the user's scoring script (or a built-in scorer) inside a worker."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import traceback
from types import ModuleType
from typing import Any

BUILTIN_SCORERS = {"mlflow": "batchpoint.runtime.mlflow_scorer"}


class NoRunFunction(AttributeError):
    """The scoring script defines no ``run(mini_batch)``."""


# A script that fails with one of these cannot be loaded by any worker: starting another one only
# repeats the failure, so the job fails at once (an exception of the script's own top-level code or
# of init() may be transient and is retried instead).
LOAD_ERRORS = (SyntaxError, ImportError, NoRunFunction)


def load_scorer(config: dict[str, Any]) -> ModuleType:
    """The module whose ``init``/``run``/``shutdown`` the worker calls."""
    builtin = config.get("builtin_scorer")
    if builtin:
        return importlib.import_module(BUILTIN_SCORERS[builtin])
    code_dir = config["code_dir"]
    script = os.path.join(code_dir, config["scoring_script"])
    if code_dir not in sys.path:
        sys.path.insert(0, code_dir)
    script_dir = os.path.dirname(script)
    if script_dir not in sys.path:
        sys.path.insert(0, script_dir)
    name = os.path.splitext(os.path.basename(script))[0]
    spec = importlib.util.spec_from_file_location(name, script)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import scoring script {script}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    if not callable(getattr(module, "run", None)):
        raise NoRunFunction(f"{config['scoring_script']} defines no run(mini_batch) function")
    return module


def script_label(config: dict[str, Any]) -> str:
    """How messages name what the worker loads: ``score.py``, or ``the built-in mlflow scorer``."""
    builtin = config.get("builtin_scorer")
    if builtin:
        return f"the built-in {builtin} scorer"
    return str(config.get("scoring_script") or "the scoring script")


def describe_load_failure(exc: BaseException, config: dict[str, Any]) -> str | None:
    """``loading score.py failed: SyntaxError at line 3: invalid syntax`` when ``exc`` means the script
    cannot be loaded at all (it does not compile, an import fails, it has no ``run``); None otherwise."""
    if not isinstance(exc, LOAD_ERRORS):
        return None
    label = script_label(config)
    if isinstance(exc, NoRunFunction):
        return f"loading {label} failed: {exc}"
    if isinstance(exc, SyntaxError):
        where = _where(config, exc.filename, exc.lineno)
        return f"loading {label} failed: {type(exc).__name__}{where}: {exc.msg}"
    # An ImportError: the line of the user's import statement (the last frame in their code folder).
    code_dir = config.get("code_dir")
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if code_dir and _inside(f.filename, code_dir)]
    where = _where(config, frames[-1].filename, frames[-1].lineno) if frames else ""
    return f"loading {label} failed: {type(exc).__name__}{where}: {exc}"


def _where(config: dict[str, Any], filename: str | None, lineno: int | None) -> str:
    """`` at line 3`` in the script itself, `` in helpers/io.py at line 3`` in another file of its code."""
    if lineno is None:
        return ""
    code_dir = config.get("code_dir")
    script = config.get("scoring_script")
    if not filename or not code_dir or not script:
        return f" at line {lineno}"
    if os.path.realpath(filename) == os.path.realpath(os.path.join(code_dir, script)):
        return f" at line {lineno}"
    shown = os.path.relpath(filename, code_dir) if _inside(filename, code_dir) else filename
    return f" in {shown} at line {lineno}"


def _inside(filename: str, folder: str) -> bool:
    real, root = os.path.realpath(filename), os.path.realpath(folder)
    return real.startswith(root + os.sep)
