"""Conda environment files translated into a Python version and pip requirement lines.

batchpoint builds environments with ``uv`` (pip packages), not conda. From a conda file it takes:

* ``python=X.Y`` (or ``python==X.Y.Z``, ``python X.Y``) as the interpreter version;
* the ``pip:`` list as it is;
* plain conda packages, translated to their PyPI names (``pytorch`` → ``torch``, ``py-xgboost`` →
  ``xgboost``; most names are the same on both) with their versions (conda's fuzzy ``=1.2`` becomes
  pip's ``==1.2.*``; a build string is dropped);
* ``pip``, ``setuptools`` and ``wheel`` are dropped, and so are the C runtime libraries every Python
  interpreter already has (``openssl``, ``libgcc-ng``, ``ca-certificates``...), with a note.

Conda packages that have no pip equivalent (``mkl``, ``cudatoolkit``, R packages...) are an error
naming the package. Channels are ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from batchpoint.errors import InvalidInput

PIP_TOOLING = frozenset({"pip", "setuptools", "wheel"})
"""Installed by the builder itself; a pin on them is ignored."""

RENAMES = {
    "pytorch": "torch",
    "pytorch-cpu": "torch",
    "pytorch-gpu": "torch",
    "py-xgboost": "xgboost",
    "py-xgboost-cpu": "xgboost",
    "py-xgboost-gpu": "xgboost",
    "py-lightgbm": "lightgbm",
    "py-opencv": "opencv-python",
    "opencv": "opencv-python",
    "matplotlib-base": "matplotlib",
    "tensorflow-gpu": "tensorflow",
    "tensorflow-cpu": "tensorflow",
    "msgpack-python": "msgpack",
    "pytables": "tables",
    "python-graphviz": "graphviz",
    "ruamel_yaml": "ruamel.yaml",
    "pyqt": "pyqt5",
    "arrow-cpp": "pyarrow",
    "libopencv": "opencv-python",
}
"""Conda names whose package has another name on PyPI."""

RUNTIME_LIBRARIES = frozenset(
    {
        "_libgcc_mutex", "_openmp_mutex", "ld_impl_linux-64", "libgcc-ng", "libgcc", "libstdcxx-ng", "libstdcxx",
        "libgomp", "libffi", "libnsl", "libuuid", "libzlib", "zlib", "libsqlite", "sqlite", "libxcrypt", "openssl",
        "ca-certificates", "xz", "liblzma", "bzip2", "readline", "ncurses", "tk", "tzdata", "libexpat", "expat",
        "vc", "vs2015_runtime", "ucrt", "libmpdec",
    }
)  # fmt: skip
"""C libraries conda installs under every Python; a pip environment gets them from the interpreter."""

CONDA_ONLY = {
    "mkl": "the Intel MKL library; pip wheels of numpy and scipy bring their own BLAS",
    "mkl-service": "part of conda's MKL stack",
    "mkl_fft": "part of conda's MKL stack",
    "mkl_random": "part of conda's MKL stack",
    "nomkl": "a conda feature switch",
    "blas": "a conda BLAS selector; pip wheels bring their own BLAS",
    "libblas": "a conda BLAS library",
    "libcblas": "a conda BLAS library",
    "liblapack": "a conda LAPACK library",
    "openblas": "a conda BLAS library",
    "cudatoolkit": "the CUDA toolkit; CUDA builds of torch and tensorflow on PyPI bring their own CUDA libraries",
    "cudnn": "a CUDA library; CUDA wheels on PyPI bring their own",
    "nccl": "a CUDA library; CUDA wheels on PyPI bring their own",
    "cpuonly": "a conda feature switch of pytorch",
    "pytorch-cuda": "a conda CUDA selector of pytorch",
    "gcc": "a compiler",
    "gxx": "a compiler",
    "gxx_linux-64": "a compiler",
    "gcc_linux-64": "a compiler",
    "make": "a build tool",
    "git": "a program, not a Python package",
    "nodejs": "a program, not a Python package",
    "r-base": "the R language",
}
"""Conda packages with no pip equivalent, and why."""

_NAME = re.compile(r"^\s*([A-Za-z0-9_][A-Za-z0-9_.\-]*)\s*(.*?)\s*$")
_OPERATOR = re.compile(r"^(==|>=|<=|!=|~=|>|<)")
_PLAIN_VERSION = re.compile(r"^[0-9][0-9A-Za-z.*+!_-]*$")


@dataclass
class CondaRequirements:
    """What a conda file asks for, in pip terms."""

    python_version: str | None = None
    """``X.Y`` or ``X.Y.Z`` when the file pins one Python version."""
    requirements: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def translate(conda: dict[str, Any], *, field_name: str = "conda_file") -> CondaRequirements:
    """A parsed conda file (``name``, ``channels``, ``dependencies``) in pip terms."""
    if not isinstance(conda, dict):
        raise InvalidInput("a conda file must be a mapping with a 'dependencies' list", field=field_name)
    dependencies = conda.get("dependencies") or []
    if not isinstance(dependencies, list):
        raise InvalidInput("'dependencies' must be a list", field=f"{field_name}.dependencies")
    result = CondaRequirements()
    ignored: list[str] = []
    for index, item in enumerate(dependencies):
        where = f"{field_name}.dependencies[{index}]"
        if isinstance(item, dict):
            result.requirements.extend(_pip_section(item, where))
            continue
        if not isinstance(item, str):
            raise InvalidInput(f"expected a package spec or a 'pip:' list, got {item!r}", field=where)
        name, version = _split(item, where)
        if name == "python":
            result.python_version = _python_version(version, result.notes, item)
            continue
        if name in PIP_TOOLING or name in RUNTIME_LIBRARIES:
            ignored.append(name)
            continue
        result.requirements.append(_conda_to_pip(name, version, item, where))
    if ignored:
        result.notes.append(f"conda packages not needed in a pip environment were left out: {', '.join(ignored)}")
    return result


def _pip_section(item: dict[str, Any], where: str) -> list[str]:
    if set(item) != {"pip"}:
        raise InvalidInput(f"unexpected mapping {sorted(item)}; only a 'pip:' list may appear here", field=where)
    lines = item["pip"] or []
    if not isinstance(lines, list) or not all(isinstance(line, str) for line in lines):
        raise InvalidInput("'pip' must be a list of requirement lines", field=f"{where}.pip")
    return [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]


def _split(spec: str, where: str) -> tuple[str, str]:
    """``channel::name=1.2=build`` → (``name``, ``=1.2=build``)."""
    text = spec.split("::", 1)[1] if "::" in spec else spec
    match = _NAME.match(text)
    if not match:
        raise InvalidInput(f"'{spec}' is not a conda package spec", field=where)
    return match.group(1).lower(), match.group(2)


def _pip_version(version: str, spec: str, where: str) -> str:
    """A conda version constraint as a pip one ("" for none)."""
    version = version.strip()
    if not version:
        return ""
    if "|" in version or "[" in version:
        raise InvalidInput(f"'{spec}': conda version syntax that pip cannot express; write it as a pip requirement "
                           "under 'pip:'", field=where)  # fmt: skip
    if _OPERATOR.match(version):
        return version.replace(" ", "")
    if version.startswith("="):
        # Conda's "=1.2" is the fuzzy "1.2.*"; "=1.2=build" adds a build string pip cannot use.
        exact = version[1:].split("=")[0].strip()
        if not exact:
            return ""
        return f"=={exact}" if exact.endswith("*") else f"=={exact}.*"
    exact = version.split()[0]  # "1.2.3 py39_0": version then build string
    if not _PLAIN_VERSION.match(exact):
        raise InvalidInput(f"'{spec}': cannot read the version '{version}'", field=where)
    return f"=={exact}"


def _python_version(version: str, notes: list[str], spec: str) -> str | None:
    text = version.strip()
    if not text:
        return None
    if text.startswith("=="):
        text = text[2:]
    elif text.startswith("="):
        text = text[1:]
    elif _OPERATOR.match(text):
        text = ""
    text = (text.split("=")[0].split() or [""])[0].removesuffix(".*").rstrip("*")
    if re.fullmatch(r"3\.\d+(\.\d+)?", text):
        return text
    notes.append(f"'{spec}' does not name one Python version; the builder picks the interpreter")
    return None


def _conda_to_pip(name: str, version: str, spec: str, where: str) -> str:
    reason = CONDA_ONLY.get(name)
    if reason is None and name.startswith(("r-", "cuda-", "libcu", "libnv")):
        reason = "a conda-only library" if not name.startswith("r-") else "an R package"
    if reason is not None:
        raise InvalidInput(
            f"conda package '{name}' has no pip equivalent ({reason}); batchpoint builds environments from pip "
            "packages: remove it, or list a pip package under 'pip:' instead",
            field=where,
        )
    return RENAMES.get(name, name) + _pip_version(version, spec, where)
