"""Preparing a job's runtime: the model folder, the code, the worker configuration file."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from batchpoint.jobs.schemas import RunSpec
from batchpoint.registry.schemas import Model

if TYPE_CHECKING:
    from batchpoint.services import Services


@dataclass
class Runtime:
    """Where and how workers run."""

    config_file: Path
    cwd: Path
    python: str
    env: dict[str, str]
    environment: dict[str, Any]


def prepare_runtime(ctx: Services, spec: RunSpec, job_dir: Path) -> Runtime:
    env: dict[str, str] = {}
    if spec.model is not None:
        model_dir = ctx.models.materialise(Model.model_validate(spec.model))
        env["AZUREML_MODEL_DIR"] = str(model_dir)
    output_dir = Path(spec.output.path)
    output_dir.mkdir(parents=True, exist_ok=True)
    env["AZUREML_BI_OUTPUT_PATH"] = str(output_dir)
    env.update(spec.settings.environment_variables)
    code_dir: Path | None = None
    if spec.code_manifest:
        code_root = job_dir / "code"
        manifest = ctx.artifacts.manifest(spec.code_manifest)
        code_dir = code_root / manifest.name
        if not code_dir.exists():
            ctx.artifacts.export(spec.code_manifest, code_root)
    work_dir = code_dir or (job_dir / "work")
    work_dir.mkdir(parents=True, exist_ok=True)
    config = {
        "code_dir": str(code_dir) if code_dir else None,
        "scoring_script": spec.scoring_script,
        "builtin_scorer": spec.builtin_scorer,
        "output_action": spec.settings.output_action,
        "output_file_name": spec.settings.output_file_name,
        "logging_level": spec.settings.logging_level,
        "heartbeat_seconds": ctx.settings.engine.heartbeat_seconds,
        "program_arguments": spec.program_arguments,
        "env": env,
    }
    config_file = job_dir / "worker-config.json"
    config_file.write_text(json.dumps(config, indent=2))
    environment = {"name": None, "python": sys.executable, "note": "batchpoint's own interpreter", "build_seconds": 0}
    return Runtime(config_file=config_file, cwd=work_dir, python=sys.executable, env=env, environment=environment)
