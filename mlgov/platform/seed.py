"""The seed of a model-build repository: what ``mlgov seed`` writes for a team's first commit.

The files live in the package's ``mlgov/seed/model-build/`` folder (shipped as package data):
the scripts, their tests, the buildspec and the README. Only ``pipeline/definition.json`` is
generated, from the same builder the model-build product (v3) embeds
(:func:`mlgov.platform.catalog.pipeline_definition_v3`), so the repository's definition is byte
for byte what mlgov reviews. The seed depends on no spec value: every org-specific value reaches
the build as an environment variable.
"""

from __future__ import annotations

from pathlib import Path

from mlgov.platform.canonical import Tree
from mlgov.platform.catalog import pipeline_definition_v3

SEED_DIR = Path(__file__).resolve().parent.parent / "seed" / "model-build"
DEFINITION = "pipeline/definition.json"
# Files shipped under another name: package data leaves dotfiles out.
RENAMED = {"gitignore": ".gitignore"}


def seed_tree() -> Tree:
    """Every file of the seed, by relative path (sorted), the definition included."""
    files: Tree = {}
    for path in sorted(SEED_DIR.rglob("*")):
        rel = path.relative_to(SEED_DIR).as_posix()
        if not path.is_file() or "__pycache__" in path.parts or path.suffix == ".pyc" or rel == DEFINITION:
            continue
        files[RENAMED.get(rel, rel)] = path.read_bytes()
    files[DEFINITION] = (pipeline_definition_v3() + "\n").encode("utf-8")
    return dict(sorted(files.items()))
