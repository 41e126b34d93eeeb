"""Azure ML's curated environments, approximated locally by a Python version and pip requirements.

Azure ships these as Docker images (``mcr.microsoft.com/azureml/curated/...``); batchpoint builds a
virtual environment instead, from the table below (docs/command-jobs.md prints it). A curated
environment is registered in the workspace on first use, under its workspace name
(``AzureML-sklearn-1.5``) and the version asked for (``1`` for ``@latest``), so jobs that use it
share one build. Its description and the job's ``environment.note`` say what it was approximated as.

Accepted references: ``azureml://registries/azureml/environments/<name>/labels/latest``,
``azureml://registries/azureml/environments/<name>/versions/<v>``, ``azureml:AzureML-<name>@latest``
and ``azureml:AzureML-<name>:<v>`` (``<name>`` with or without the ``AzureML-`` prefix in the
registry form, as Azure names them there).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from batchpoint.errors import InvalidInput

PREFIX = "AzureML-"
TAG = "batchpoint.curated"
"""Tag of a registered curated environment; its value is what it was approximated as."""
_REGISTRY = re.compile(
    r"^azureml://registries/(?P<registry>[^/]+)/environments/(?P<name>[^/]+)/(?:(?:labels/(?P<label>[^/]+))|(?:versions/(?P<version>[^/]+)))$"
)
_WORKSPACE = re.compile(r"^azureml:(?P<name>AzureML-[A-Za-z0-9_.\-]+?)(?:@(?P<label>[a-z]+)|:(?P<version>[^:@/]+))?$")


@dataclass(frozen=True)
class Curated:
    name: str
    """The workspace name (``AzureML-sklearn-1.5``); the registry name is without the prefix."""
    python: str
    pip: tuple[str, ...]
    approximated: bool = True
    """False only where the packages are all there is to it (the minimal images)."""

    @property
    def registry_name(self) -> str:
        return self.name.removeprefix(PREFIX)

    @property
    def image(self) -> str:
        return f"mcr.microsoft.com/azureml/curated/{self.registry_name.lower()}:latest"

    def describe(self) -> str:
        packages = ", ".join(self.pip) if self.pip else "no packages"
        return f"Python {self.python} with {packages}"


_SKLEARN = ("pandas", "numpy", "scipy", "joblib", "mlflow-skinny")
TABLE: tuple[Curated, ...] = (
    Curated("AzureML-sklearn-1.5", "3.10", ("scikit-learn~=1.5.0", *_SKLEARN)),
    Curated("AzureML-sklearn-1.1", "3.10", ("scikit-learn~=1.1.0", *_SKLEARN)),
    Curated("AzureML-sklearn-1.0-ubuntu20.04-py38-cpu", "3.8", ("scikit-learn~=1.0.0", *_SKLEARN)),
    Curated("AzureML-sklearn-0.24-ubuntu18.04-py37-cpu", "3.7", ("scikit-learn~=0.24.0", *_SKLEARN)),
    Curated("AzureML-lightgbm-3.3", "3.8", ("lightgbm~=3.3.0", "scikit-learn", "pandas", "numpy", "mlflow-skinny")),
    Curated("AzureML-pytorch-1.10-ubuntu18.04-py37-cuda11-gpu", "3.7", ("torch~=1.10.0", "torchvision", "numpy")),
    Curated("AzureML-ACPT-pytorch-2.2-cuda12.1", "3.10", ("torch~=2.2.0", "torchvision", "numpy", "mlflow-skinny")),
    Curated("AzureML-tensorflow-2.12-cuda11", "3.8", ("tensorflow~=2.12.0", "numpy", "pandas", "mlflow-skinny")),
    Curated("AzureML-tensorflow-2.4-ubuntu18.04-py37-cuda11-gpu", "3.7", ("tensorflow~=2.4.0", "numpy", "pandas")),
    Curated("AzureML-minimal-ubuntu20.04-py38-cpu", "3.8", (), approximated=False),
    Curated("AzureML-minimal-ubuntu22.04-py39-cpu", "3.9", (), approximated=False),
)
_BY_NAME = {c.name.lower(): c for c in TABLE}


@dataclass(frozen=True)
class CuratedRef:
    entry: Curated
    version: str | None
    """None: the latest."""


def lookup(name: str) -> Curated | None:
    key = name.lower()
    return _BY_NAME.get(key) or _BY_NAME.get((PREFIX + name).lower())


def parse(ref: str, *, field: str = "environment", file: str | None = None) -> CuratedRef | None:
    """The curated environment ``ref`` names, or None when it names no curated environment.

    A registry URI is always decided here: one of another registry, or of a name not in the table, is
    an error naming what is known.
    """
    registry = _REGISTRY.match(ref)
    if registry is not None:
        if registry.group("registry") != "azureml":
            raise InvalidInput(
                f"'{ref}': environments of registry '{registry.group('registry')}' are not available here; only "
                "Azure ML's curated ones (registry 'azureml') are approximated locally",
                field=field,
                file=file,
            )
        entry = lookup(registry.group("name"))
        if entry is None:
            raise _unknown(ref, registry.group("name"), field, file)
        return CuratedRef(entry, _version(registry.group("version"), registry.group("label"), ref, field, file))
    workspace = _WORKSPACE.match(ref)
    if workspace is None:
        return None
    entry = lookup(workspace.group("name"))
    if entry is None:
        return None  # a workspace environment that merely starts with AzureML-
    return CuratedRef(entry, _version(workspace.group("version"), workspace.group("label"), ref, field, file))


def _version(version: str | None, label: str | None, ref: str, field: str, file: str | None) -> str | None:
    if label is not None and label != "latest":
        raise InvalidInput(f"unknown label '{label}' in '{ref}'; only 'latest' is supported", field=field, file=file)
    return version


def _unknown(ref: str, name: str, field: str, file: str | None) -> InvalidInput:
    known = ", ".join(c.registry_name for c in TABLE)
    return InvalidInput(
        f"'{ref}': '{name}' is not a curated environment batchpoint knows (known: {known})",
        field=field,
        file=file,
        hint="register an environment with its conda file or pip requirements and use azureml:NAME:VERSION",
    )


def markdown_table() -> str:
    """The table as docs/command-jobs.md prints it."""
    lines = ["| curated environment | Python | pip requirements | approximated |", "|---|---|---|---|"]
    for c in TABLE:
        packages = ", ".join(f"`{p}`" for p in c.pip) or "(none)"
        lines.append(f"| `{c.name}` | {c.python} | {packages} | {'yes' if c.approximated else 'no'} |")
    return "\n".join(lines)
