"""Render the pipeline definition for this project: every ``${Name}`` placeholder of
``pipeline/definition.json`` becomes the value of the environment variable ``Name``.

The build (buildspec.yml) runs this with the environment the model-build product gives the
CodeBuild project: one variable per placeholder, the values CloudFormation bound when it
created the pipeline. A placeholder without a variable is an error (nothing is left half
rendered), and the result must be JSON. Standard library only (the build image's Python).

    python3 pipeline/render.py pipeline/definition.json > definition.rendered.json
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Mapping

PLACEHOLDER = re.compile(r"\$\{([A-Za-z][A-Za-z0-9]*)\}")


class RenderError(Exception):
    """The definition cannot be rendered with this environment."""


def placeholders(text: str) -> list[str]:
    """The placeholder names of a definition, sorted."""
    return sorted(set(PLACEHOLDER.findall(text)))


def render(text: str, environ: Mapping[str, str]) -> str:
    """``text`` with every placeholder replaced; raises RenderError naming the missing variables."""
    missing = [name for name in placeholders(text) if name not in environ]
    if missing:
        raise RenderError(f"no environment variable for placeholder(s): {', '.join(missing)}")
    rendered = PLACEHOLDER.sub(lambda m: environ[m.group(1)], text)
    try:
        json.loads(rendered)
    except ValueError as exc:
        raise RenderError(f"the rendered definition is not JSON ({exc})") from None
    return rendered


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: render.py DEFINITION", file=sys.stderr)
        return 2
    try:
        with open(argv[1], encoding="utf-8") as handle:
            sys.stdout.write(render(handle.read(), os.environ))
    except (OSError, RenderError) as exc:
        print(f"render: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
