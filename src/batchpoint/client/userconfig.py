"""The user's config file, written by ``batchpoint login``: which server to talk to, with which token.

Location: ``$BATCHPOINT_CONFIG``, else ``$XDG_CONFIG_HOME/batchpoint/config.json``, else
``~/.config/batchpoint/config.json``. The file holds a secret, so it is created with mode 0600
(its folder 0700) and rewritten atomically; a file readable by others is refused.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from batchpoint.errors import InvalidInput


class UserConfig(BaseModel):
    server: str | None = None
    token: str | None = None


def config_path() -> Path:
    explicit = os.environ.get("BATCHPOINT_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base).expanduser() / "batchpoint" / "config.json"


def load() -> UserConfig:
    """The saved login, or an empty one when there is none."""
    path = config_path()
    try:
        info = path.stat()
    except FileNotFoundError:
        return UserConfig()
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise InvalidInput(
            f"'{path}' holds a token but others may read it (mode {stat.S_IMODE(info.st_mode):o}); "
            f"run 'chmod 600 {path}' or log in again",
            file=str(path),
        )
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
        return UserConfig.model_validate(data)
    except (ValueError, OSError) as exc:
        raise InvalidInput(f"cannot read the batchpoint config file: {exc}", file=str(path)) from None


def save(config: UserConfig) -> Path:
    """Write the file with mode 0600 (folder 0700), atomically."""
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".config-")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(config.model_dump(exclude_none=True), out, indent=2)
            out.write("\n")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def clear() -> bool:
    """Forget the login; True if there was one."""
    path = config_path()
    if path.exists():
        path.unlink()
        return True
    return False
