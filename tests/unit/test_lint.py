"""The suite's own checks of the code: ruff over the tree, mypy --strict over
the public API, and the import layering the architecture promises."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PUBLIC = ["nsbox/__init__.py", "nsbox/api", "nsbox/errors.py", "nsbox/defaults.py", "nsbox/kernel/errors.py"]


def _tool(name: str) -> str:
    path = Path(sys.executable).parent / name
    found = str(path) if path.exists() else shutil.which(name)
    if not found:
        pytest.fail(f"{name} is not installed (./scripts/test installs the test dependencies)")
    return found


def test_ruff_check_is_clean():
    r = subprocess.run([_tool("ruff"), "check", "--quiet", "."], cwd=REPO, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_public_api_passes_mypy_strict():
    r = subprocess.run([_tool("mypy"), "--no-incremental", *PUBLIC], cwd=REPO, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def _imports(path: Path) -> set[str]:
    """The nsbox modules a file imports (absolute names), wherever the import stands."""
    pkg = ".".join(path.relative_to(REPO).with_suffix("").parts)
    if path.name == "__init__.py":
        pkg = pkg.rsplit(".", 1)[0] + ".__init__"
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("nsbox")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")[: -node.level]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            if name.startswith("nsbox"):
                out.add(name)
                out |= {f"{name}.{a.name}" for a in node.names}
    return out


def _modules(sub: str) -> list[Path]:
    return sorted((REPO / "nsbox" / sub).rglob("*.py")) if sub else sorted((REPO / "nsbox").rglob("*.py"))


def _layer_violations(sub: str, allowed: tuple[str, ...]) -> list[str]:
    bad = []
    for path in _modules(sub):
        for name in _imports(path):
            if not name.startswith(allowed):
                bad.append(f"{path.relative_to(REPO)} imports {name}")
    return bad


def test_kernel_layer_imports_nothing_above_it():
    assert _layer_violations("kernel", ("nsbox.kernel",)) == []


def test_spec_model_imports_no_runtime():
    # the OCI model: records, loading, validation; nothing of nsbox's options, engine or kernel
    assert _layer_violations("spec", ("nsbox.spec", "nsbox.errors", "nsbox.kernel.errors")) == []


def test_nothing_imports_the_cli():
    # (nsbox/__main__.py is `python -m nsbox`: the CLI's own entry point)
    bad = [f"{p.relative_to(REPO)} imports {n}" for p in _modules("")
           if "cli" not in p.relative_to(REPO).parts and p.name != "__main__.py"
           for n in _imports(p) if n.startswith("nsbox.cli")]
    assert bad == []


def test_layering_check_sees_imports():
    """The checker itself: a relative import inside a function is found."""
    names = _imports(REPO / "nsbox" / "api" / "run.py")
    assert "nsbox.runtime.run" in names and "nsbox.errors" in names
