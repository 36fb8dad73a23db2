"""The map stays true and the code stays readable: every path that ``ARCHITECTURE.md`` and
the README's layer map name exists, every package of ``ultralink/`` is on the map, and no
module or function grows past the size a reader can hold (issue 22's "done when")."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "ultralink"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80
# `ultralink/x.py`, `tests/x/`, `jobs/full.yaml` ... in backticks; globs and placeholders skipped
PATH = re.compile(r"`((?:ultralink|tests|jobs|prompts|benchmarks|scripts|data)/[\w./-]*)`")


def named_paths(text: str) -> set[str]:
    return {p for p in PATH.findall(text) if not re.search(r"[*<{]", p)}


def exists(token: str) -> bool:
    """``ultralink/x/y.py`` from the root, ``x/y.py`` inside the package, or a bare ``y.py``
    that names a module somewhere in the package."""
    token = token.rstrip("/")
    return ((ROOT / token).exists() or (PACKAGE / token).exists()
            or ("/" not in token and any(PACKAGE.rglob(token))))


def test_architecture_names_only_paths_that_exist():
    text = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    paths = named_paths(text)
    assert len(paths) > 30, "the map names too little to be a map"
    missing = sorted(p for p in paths if not (ROOT / p).exists())
    assert not missing, f"ARCHITECTURE.md names paths that do not exist: {missing}"
    modules = set(re.findall(r"`([\w/]+\.py)`", text))   # bare module names in the prose
    for block in text.split("```")[1::2]:                   # the data-flow diagram
        modules |= set(re.findall(r"[\w/]+\.py", block))
    missing = sorted(m for m in modules if not exists(m))
    assert not missing, f"ARCHITECTURE.md names modules that do not exist: {missing}"


def test_every_package_is_on_the_map():
    text = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    packages = sorted(p.parent.relative_to(ROOT).as_posix() + "/"
                      for p in PACKAGE.rglob("__init__.py") if p.parent != PACKAGE)
    absent = [p for p in packages if f"`{p}`" not in text]
    assert not absent, f"ARCHITECTURE.md does not place these packages: {absent}"


def test_readme_layer_map_names_existing_modules():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("## The code, in layers", 1)[1].split("```")[1]
    missing = sorted(m for m in re.findall(r"\b[a-z_][\w/]*(?:\.py|/)", block) if not exists(m))
    assert not missing, f"README layer map names what is not in ultralink/: {missing}"


def test_no_module_or_function_too_long():
    long_modules, long_functions = [], []
    for path in sorted(PACKAGE.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        name = path.relative_to(ROOT).as_posix()
        if (n := len(source.splitlines())) > MAX_MODULE_LINES:
            long_modules.append(f"{name} ({n} lines)")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    long_functions.append(f"{name}:{node.lineno} {node.name} ({n} lines)")
    assert not long_modules, f"modules over {MAX_MODULE_LINES} lines: {long_modules}"
    assert not long_functions, f"functions over {MAX_FUNCTION_LINES} lines: {long_functions}"
