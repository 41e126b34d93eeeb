"""Import the user's scoring script (or a built-in scorer) inside a worker."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from types import ModuleType
from typing import Any

BUILTIN_SCORERS = {"mlflow": "batchpoint.runtime.mlflow_scorer"}


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
        raise AttributeError(f"scoring script {config['scoring_script']} defines no run(mini_batch) function")
    return module
