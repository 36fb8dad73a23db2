"""Files that ship with the package: prompts, the sample data and the job configs.

A wheel carries them under ``ultralink/_bundled/`` (copied there by ``setup.py``'s build
step from the checkout's top-level ``prompts/``, ``data/sample/`` and ``jobs/``); an editable
install or a ``ray job submit --working-dir`` checkout reads the top-level folders directly.
One lookup serves both, so nothing depends on the current directory.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent.parent   # ultralink/


def bundle_root() -> Path:
    """The folder that holds ``prompts/``, ``data/sample/`` and ``jobs/``."""
    packaged = _PACKAGE / "_bundled"
    return packaged if (packaged / "prompts").is_dir() else _PACKAGE.parent


def prompts_dir() -> Path:
    return bundle_root() / "prompts"


def named_config(name: str) -> Path | None:
    """``sample`` → the bundled ``jobs/sample.yaml``; None when no such bundled config."""
    if "/" in name or "\\" in name or name.endswith((".yaml", ".yml")):
        return None
    path = bundle_root() / "jobs" / f"{name}.yaml"
    return path if path.is_file() else None


def config_names() -> list[str]:
    return sorted(p.stem for p in (bundle_root() / "jobs").glob("*.yaml"))
