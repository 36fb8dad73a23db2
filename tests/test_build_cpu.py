"""The README's main job, as a user without a checkout runs it: the wheel installed into a
fresh venv, then ``ultralink build --config sample`` from an empty directory, with the real
CPU model (llama.cpp, 270M). The one whole sample build of the test session."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


def clean_env() -> dict[str, str]:
    """This environment without PYTHONPATH, so nothing but the installed wheel is imported."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def install_wheel(tmp: Path) -> Path:
    """Build the wheel from this checkout and install it (no deps: the test environment has
    them) into a venv that sees the system site-packages; returns the venv's bin folder."""
    dist = tmp / "dist"
    env = clean_env()
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                    "--no-build-isolation", "-w", str(dist), str(ROOT)], check=True, env=env)
    env_dir = tmp / "venv"
    venv.create(env_dir, system_site_packages=True, with_pip=False)
    bin_dir = env_dir / "bin"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(bin_dir / "python"), "install",
                    "-q", "--no-deps", "--no-index", "--ignore-installed",
                    *map(str, dist.glob("*.whl"))], check=True, env=env)
    return bin_dir


@pytest.mark.llm
@pytest.mark.slow
@pytest.mark.timeout(1800)  # ~5 min on 2 idle cores; the whole build, model load included
def test_installed_wheel_builds_the_sample_with_the_cpu_model(tmp_path):
    bin_dir = install_wheel(tmp_path)
    work = tmp_path / "empty"
    work.mkdir()
    env = clean_env()
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    where = subprocess.run([str(bin_dir / "python"), "-c",
                            "import ultralink.core.bundled as b; print(b.__file__, b.bundle_root())"],
                           cwd=work, env=env, capture_output=True, text=True, check=True)
    module_file, bundle = where.stdout.split()
    assert str(tmp_path / "venv") in module_file and bundle.endswith("_bundled"), where.stdout

    done = subprocess.run(["ultralink", "build", "--config", "sample", "--output", "./out"],
                          cwd=work, env=env, capture_output=True, text=True, timeout=1700)
    assert done.returncode == 0, done.stderr[-3000:]

    out = work / "out"
    languages = yaml.safe_load((ROOT / "jobs" / "sample.yaml").read_text())["languages"]
    manifest = json.loads((out / "_manifest.json").read_text())
    assert manifest["status"] == "done"

    def rows(lang: str, subset: str) -> list[dict]:
        return [r for p in sorted((out / lang / subset).glob("part-*.parquet"))
                for r in pq.read_table(p).to_pylist()]

    for lang in languages:  # the CPU default yields validated dialogues everywhere
        dialogues = rows(lang, "chat_specific")
        assert dialogues and {r["language"] for r in dialogues} == {lang}, lang
    for subset in ("math", "code"):   # and validated translations (which records: model luck)
        assert sum(len(rows(lang, subset)) for lang in languages if lang != "en"), subset
    assert rows("en", "chat_agnostic")
    stats = json.loads((out / "stats.json").read_text())
    assert stats and (out / "README.md").exists() and list((out / "figures").glob("*.png"))
