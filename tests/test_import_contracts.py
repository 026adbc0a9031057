"""The import-linter contract between imagegen and the apps covers every imagegen module."""

from __future__ import annotations

import tomllib
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[1]


def test_every_imagegen_module_is_in_a_layer_of_the_project_contract():
    # A module left out of the layers could import the apps and be imported by them: a cycle no contract sees.
    contracts = tomllib.loads((BASE_DIR / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    [contract] = [c for c in contracts if c["name"].startswith("imagegen's wiring above the apps")]
    layered = {name.strip() for layer in contract["layers"] for name in layer.replace("|", ":").split(":")}
    modules = {
        f"imagegen.{path.stem}"
        for path in (BASE_DIR / "imagegen").iterdir()
        if (path.suffix == ".py" and path.stem != "__init__") or (path / "__init__.py").exists()
    }

    assert sorted(modules - layered) == []
