"""dvc.yaml's code deps are the code each stage runs: every module a stage's script imports (directly or
through other modules, also imports inside functions) is a dep of that stage, or inside a folder that is.
A missing one means DVC keeps a stale output after that module changes: `dvc repro` would call outdated
results up to date. Read from the source, like tests/test_layers.py, so nothing is imported to check it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
PACKAGE = "deepfake_detector"


def module_file(module: str) -> Path | None:
    """deepfake_detector.x.y -> src/deepfake_detector/x/y.py (or its package's __init__.py); None outside."""
    if module != PACKAGE and not module.startswith(PACKAGE + "."):
        return None
    base = SRC.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported_modules(path: Path) -> set[str]:
    """The modules a file imports; `from pkg import name` also counts pkg.name when that is a module."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def code_run_by(script: Path) -> set[Path]:
    """Every project source file `python <script>` can execute: the package's modules it imports, their
    packages' __init__.py files, transitively."""
    seen, todo = set(), [script]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for module in imported_modules(path):
            parts = module.split(".")
            for i in range(1, len(parts) + 1):  # importing a.b.c runs a/__init__, a/b/__init__ and a/b/c
                file = module_file(".".join(parts[:i]))
                if file is not None and file not in seen:
                    todo.append(file)
    return seen


def stages() -> dict[str, dict]:
    raw = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    return {name: stage.get("do", stage) for name, stage in raw.items()}


def covered(file: Path, deps: list[str]) -> bool:
    relative = file.relative_to(ROOT)
    return any(relative == Path(dep) or Path(dep) in relative.parents for dep in deps)


@pytest.mark.parametrize("name", sorted(stages()))
def test_every_module_a_stage_runs_is_one_of_its_deps(name: str) -> None:
    stage = stages()[name]
    script = ROOT / stage["cmd"].split()[1]  # "python stages/x.py [args]"
    deps = [d for d in stage.get("deps", []) if isinstance(d, str)]
    missing = sorted(str(f.relative_to(ROOT)) for f in code_run_by(script) if not covered(f, deps))
    assert not missing, f"dvc.yaml stage {name} runs these files but does not list them under deps: {missing}"


def test_the_import_walk_finds_what_a_stage_really_runs() -> None:
    """The walk itself: the train stage reaches the trainer through train/run.py, and config via stages."""
    found = {str(f.relative_to(ROOT)) for f in code_run_by(ROOT / "stages" / "train.py")}
    assert {
        "stages/train.py",
        "src/deepfake_detector/train/run.py",
        "src/deepfake_detector/train/fit.py",
        "src/deepfake_detector/config/__init__.py",
        "src/deepfake_detector/config/training.py",
        "src/deepfake_detector/__init__.py",
    } <= found
    assert "src/deepfake_detector/serving/service.py" not in found  # training never loads the service


def test_every_file_the_bento_carries_is_a_dep_of_the_package_stage() -> None:
    """The Bento holds the code bentofile.yaml includes (service, upload page, ...), not only what
    stages/package.py imports: a change to any of it must rebuild the Bento."""
    bentofile = yaml.safe_load((ROOT / "bentofile.yaml").read_text())
    carried = {f for pattern in bentofile["include"] for f in ROOT.glob(pattern) if f.is_file()}
    deps = [d for d in stages()["package"]["deps"] if isinstance(d, str)]
    missing = sorted(str(f.relative_to(ROOT)) for f in carried if not covered(f, deps))
    assert len(carried) > 50 and not missing, f"the Bento carries these files, the package stage lacks them: {missing}"
