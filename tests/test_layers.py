"""The package's layers point one way: a module imports only from layers below its own (or from its own
sub-package / module). Read from the source (every `import` and `from ... import`, also inside functions),
so nothing is imported to check it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = "deepfake_detector"
SRC = Path(__file__).resolve().parents[1] / "src" / PACKAGE

# Each top-level module or sub-package of deepfake_detector, and its layer: lower layers never import higher
# ones, and above the foundation units of one layer never import each other (train and evaluate are peers).
LAYERS: dict[str, int] = {
    # foundation: parameters, files, paths, tables, provenance, logging, named registries, devices
    PACKAGE: 0,  # the package's own __init__ (its version)
    "config": 0,
    "profiles": 0,
    "io": 0,
    "paths": 0,
    "tables": 0,
    "provenance": 0,
    "logs": 0,
    "registry": 0,
    "devices": 0,
    "engines": 0,
    "staging": 0,
    # decoding media; the networks (backbones, model.json, preprocessing, weights, export)
    "media": 1,
    "models": 1,
    # dataset ingest (adapters, sources, manifest, splits); logits -> calibrated and video scores; when not to judge;
    # where the model looked
    "data": 2,
    "scoring": 2,
    "judge": 2,
    "explain": 2,
    "evidence": 2,
    "preprocess": 2,
    # what the Predictor returns (Prediction) and how it is asked (PredictOptions)
    "prediction": 3,
    # scores -> verdicts: the threshold, the judge rules, out of distribution, the manipulation method
    "verdicts": 4,
    # the Predictor: media -> scored faces -> verdict
    "inference": 5,
    # what the stages run: training, evaluation, data validation, the reports they write
    "train": 6,
    "evaluate": 6,
    "validation": 6,
    "model_card": 6,
    "summary": 6,
    "batch": 6,
    # the top: serving the Predictor, generating the demo corpus
    "serving": 7,
    "demo": 7,
    # the command line, which launches the demo generator and the server
    "cli": 8,
}
FOUNDATION = 0  # its modules are small leaves that may use each other (tables writes through io...)
RULE = (
    "a module imports only from lower layers (or, in the foundation, from its other modules), never from "
    "another unit of its own layer or from above"
)


def unit_of(module: str) -> str:
    """'deepfake_detector.train.data' -> 'train'; the package itself -> 'deepfake_detector'."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else PACKAGE


def is_unit(root: Path, name: str) -> bool:
    return (root / name / "__init__.py").is_file() or (root / f"{name}.py").is_file()


def module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, root: Path) -> list[tuple[int, str, str]]:
    """(line, statement, imported module) for every import of the package in `path`, wherever it stands.
    `from deepfake_detector import x` counts as importing deepfake_detector.x; relative imports are resolved."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module_name(path, root) if path.name == "__init__.py" else module_name(path, root).rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, ast.unparse(node), a.name) for a in node.names if a.name.split(".")[0] == PACKAGE]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module.split(".")[0] != PACKAGE:
                continue
            if module == PACKAGE:  # `from deepfake_detector import scoring`: the unit is the module imported
                found += [
                    (node.lineno, ast.unparse(node), f"{PACKAGE}.{a.name}" if is_unit(root, a.name) else PACKAGE)
                    for a in node.names
                ]
            else:
                found.append((node.lineno, ast.unparse(node), module))
    return found


def layer_violations(root: Path, layers: dict[str, int]) -> list[str]:
    """One line per import that points up or sideways, naming the file, the import and the rule."""
    problems = []
    for path in sorted(root.rglob("*.py")):
        source = unit_of(module_name(path, root))
        where = path.relative_to(root.parent)
        if source not in layers:
            problems.append(f"{where}: unit '{source}' has no layer; add it to LAYERS in tests/test_layers.py")
            continue
        for line, statement, module in imported_modules(path, root):
            target = unit_of(module)
            if target == source:
                continue  # inside one unit (its modules order themselves)
            rank = layers.get(target)
            if rank is None:
                problems.append(f"{where}:{line}: `{statement}` imports '{target}', which has no layer")
            elif rank > layers[source] or (rank == layers[source] and rank != FOUNDATION):
                problems.append(
                    f"{where}:{line}: `{statement}` imports {target} (layer {rank}) into {source} "
                    f"(layer {layers[source]}); rule: {RULE}"
                )
    return problems


def test_every_unit_has_a_layer() -> None:
    units = {unit_of(module_name(p, SRC)) for p in SRC.rglob("*.py")}
    assert units - LAYERS.keys() == set(), "add the new modules to LAYERS with the layer they belong to"
    assert LAYERS.keys() - units == set(), "LAYERS names modules that no longer exist"


def test_imports_point_down() -> None:
    problems = layer_violations(SRC, LAYERS)
    assert not problems, "upward or sideways imports:\n" + "\n".join(problems)


@pytest.mark.parametrize(("importer", "imported"), [("train", "evaluate"), ("evaluate", "train")])
def test_train_and_evaluate_never_import_each_other(importer: str, imported: str) -> None:
    hits = [
        f"{path.relative_to(SRC.parent)}:{line}: `{statement}`"
        for path in sorted((SRC / importer).rglob("*.py"))
        for line, statement, module in imported_modules(path, SRC)
        if unit_of(module) == imported
    ]
    assert not hits, f"{importer} imports {imported} (they are peers; share code through a lower layer):\n" + "\n".join(
        hits
    )


def test_inference_imports_nothing_from_train() -> None:
    hits = [
        f"{line}: `{statement}`"
        for line, statement, module in imported_modules(SRC / "inference.py", SRC)
        if unit_of(module) == "train"
    ]
    assert not hits, "inference.py imports train (the Predictor must not need the training code):\n" + "\n".join(hits)


def test_the_check_finds_upward_imports(tmp_path: Path) -> None:
    """The checker itself: an import inside a function, a relative one and a `from package import` are seen."""
    root = tmp_path / PACKAGE
    (root / "models").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "config.py").write_text("def f():\n    from deepfake_detector.models import spec\n")
    (root / "models" / "__init__.py").write_text("")
    (root / "models" / "spec.py").write_text("from ..inference import Predictor\nfrom . import other\n")
    (root / "inference.py").write_text("from deepfake_detector import config, models\nimport deepfake_detector.train\n")
    (root / "train.py").write_text(
        "from deepfake_detector import __version__, inference\nimport deepfake_detector.io\n"
    )
    (root / "evaluate.py").write_text("from deepfake_detector.train import fit\n")
    (root / "io.py").write_text("from deepfake_detector.config import x\n")
    layers = {PACKAGE: 0, "config": 0, "io": 0, "models": 1, "inference": 2, "train": 3, "evaluate": 3}
    problems = layer_violations(root, layers)
    assert len(problems) == 4, problems
    assert problems[0].startswith(
        f"{PACKAGE}/config.py:2: `from deepfake_detector.models import spec` imports "
        "models (layer 1) into config (layer 0); rule: "
    )
    assert (
        "evaluate.py:1: `from deepfake_detector.train import fit` imports train (layer 3) into evaluate" in problems[1]
    )
    assert "inference.py:2: `import deepfake_detector.train`" in problems[2]
    assert "models/spec.py:1: `from ..inference import Predictor` imports inference (layer 2)" in problems[3]
