"""Copies the checkout's prompts, sample data and job configs into the wheel.

They live at the top of the repository (the layout users and ``ray job submit --working-dir``
see); a wheel needs them inside the package, as ``ultralink/_bundled/`` (read by
``ultralink.core.bundled``). Everything else is declared in ``pyproject.toml``.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

BUNDLED = ("prompts", "data/sample", "jobs")


class BuildPyWithBundle(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads the checkout's folders in place
        root = Path(__file__).resolve().parent
        dest = Path(self.build_lib) / "ultralink" / "_bundled"
        for rel in BUNDLED:
            target = dest / rel
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(root / rel, target,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


setup(cmdclass={"build_py": BuildPyWithBundle})
