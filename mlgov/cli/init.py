"""``init``: a platform team's own repository, from an installed mlgov.

What it writes (all of it in memory first, then file by file): the spec of a chosen example,
``cdktf.json`` naming it, ``.gitignore``, a short ``README.md``, and the CI pipelines of
:mod:`mlgov.platform.workflows` (GitHub Actions' file in ``.github/workflows/``, GitLab's
``.gitlab-ci.yml`` including the generated one), pinned to the installed mlgov and passing the
spec's file name. It never overwrites or removes a file: a target that exists with other bytes
(or is a symlink, or lies under one) refuses the whole run before anything is written; one with
exactly the bytes it would write is left as it is, so running it twice changes nothing.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import click

from mlgov import __version__
from mlgov.cli.common import EXIT_INPUT, command, fail
from mlgov.errors import SpecError
from mlgov.platform import workflows
from mlgov.platform.canonical import Tree, canonical_json
from mlgov.spec.located import load_yaml
from mlgov.synth import outdir
from mlgov.validation import parse_spec

# The example specs, as package data: mlgov/examples/*.yaml and mlgov/org.yaml, Northwind's spec
# (the one real file; the checkout's top-level org.yaml is a link to it).
PACKAGE = Path(__file__).resolve().parent.parent
EXAMPLES_DIR = PACKAGE / "examples"
DEFAULT_EXAMPLE = "northwind"
GITHUB_WORKFLOW = ".github/workflows/mlgov-plan-apply.yml"
# A new platform has released nothing: the example's `frozen: true` marks (Northwind's released
# product versions) would ask for released copies the new repository does not have.
_FROZEN = re.compile(r"^[ \t]*frozen:[ \t]*true\b.*\n", re.MULTILINE)

GITIGNORE = """\
# Written by `mlgov init`. generated/ is committed: pipelines and reviews read it.
plans/
.terraform/
*.tfplan
cdktf.out/
__pycache__/
.venv/
.mlgov-tools/
"""

README = """\
# ML platform

The org spec `{spec}` describes the whole platform; mlgov {version} turns it into
Terraform JSON for every account layer, product templates and CI pipelines under
`generated/` (committed).

    pip install "mlgov=={version}"
    mlgov validate             # the spec cdktf.json names: {spec}
    mlgov synth                # write generated/ (and after every spec change; commit it)
    mlgov synth --check        # what CI runs: exit 1 when generated/ is stale

Beside the spec:

- `templates/<name>.yaml.j2`: product templates of your own (used before mlgov's by name);
- `released/<org name>/<portfolio>/<product>/<version>.yaml`: released product versions
  (`frozen: true`), copied from `generated/products/` when a version ships.

CI: `{github}` (GitHub Actions; after `mlgov synth`, copy `generated/{github_generated}`
over it when it changed) or `.gitlab-ci.yml` (GitLab, includes the generated pipeline).
"""


def examples() -> dict[str, Path]:
    """The examples ``init --example`` offers, by name."""
    found = {p.stem: p for p in EXAMPLES_DIR.glob("*.yaml")}
    return dict(sorted({DEFAULT_EXAMPLE: PACKAGE / "org.yaml", **found}.items()))


def example_names() -> list[str]:
    """Names of :func:`examples`."""
    return list(examples())


def init_tree(example: str, spec_name: str) -> Tree:
    """Every file ``init`` writes, by path; the spec is validated first (one line per problem)."""
    text = _FROZEN.sub("", examples()[example].read_text(encoding="utf-8"))
    # Validated as a spec of its own (not a file here: the current directory's templates/ and
    # released/ are not the new repository's).
    spec = parse_spec(load_yaml(text, f"<example {example}>"))
    cdktf = {
        "app": f"mlgov synth --quiet {spec_name}",
        "context": {"mlgovSpec": spec_name},
        "language": "python",
        "output": "generated",
        "projectId": f"mlgov-{spec.organization.name}",
        "sendCrashReports": "false",
        "terraformProviders": [],
    }
    generated_github = workflows.render_workflows(spec, spec_name)[workflows.GITHUB_PATH]
    gitlab = (
        "# Written by `mlgov init`: the pipeline `mlgov synth` generates.\n"
        f"include:\n  - local: generated/{workflows.GITLAB_PATH}\n"
    )
    return {
        spec_name: text.encode("utf-8"),
        "cdktf.json": canonical_json(cdktf),
        ".gitignore": GITIGNORE.encode("utf-8"),
        "README.md": README.format(
            spec=spec_name, version=__version__, github=GITHUB_WORKFLOW, github_generated=workflows.GITHUB_PATH
        ).encode("utf-8"),
        GITHUB_WORKFLOW: generated_github,
        ".gitlab-ci.yml": gitlab.encode("utf-8"),
    }


def write_new(tree: Tree, root: Path) -> list[str]:
    """Write ``tree`` under ``root``, creating files only; the paths written (not those that
    already held the same bytes). Raises :class:`~mlgov.synth.outdir.UnsafeOutput` before
    writing anything if a target exists with other content or goes through a symlink."""
    if root.exists() and not root.is_dir():
        raise outdir.UnsafeOutput(f"refusing to write into {root}: it exists and is not a directory")
    outdir.check_targets(outdir.Ownership(root, frozenset(), ()), tree)
    umask = os.umask(0)
    os.umask(umask)
    written = []
    for rel, data in sorted(tree.items()):
        path = root / rel
        if path.is_file():
            continue  # check_targets: it holds exactly these bytes
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.chmod(tmp, 0o666 & ~umask)  # as an ordinary new file (mkstemp makes it private)
            # link(2), not rename: fails rather than replace a file that appeared meanwhile.
            os.link(tmp, path)
        finally:
            os.unlink(tmp)
        written.append(rel)
    return written


@click.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--example",
    default=DEFAULT_EXAMPLE,
    show_default=True,
    metavar="NAME",
    help="The example spec to start from: " + ", ".join(example_names()) + ".",
)
@click.option("--spec-name", default="org.yaml", show_default=True, help="File name of the spec in DIRECTORY.")
def init(directory: Path, example: str, spec_name: str) -> None:
    """Write a platform repository into DIRECTORY: a spec from an example, cdktf.json, .gitignore,
    README.md and CI pipelines pinned to this mlgov. Existing files are never overwritten.

    Then, in DIRECTORY: `mlgov synth`, and commit.
    """
    if example not in example_names():
        fail(f"unknown example (got {example!r}, expected one of {', '.join(example_names())})", EXIT_INPUT)
    if "/" in spec_name or not spec_name.endswith((".yaml", ".yml")):
        fail(f"--spec-name must be a file name ending in .yaml (got {spec_name!r})", EXIT_INPUT)
    try:
        tree = init_tree(example, spec_name)
        written = write_new(tree, directory)
    except SpecError as exc:  # an example that no longer validates: mlgov's bug, said in one line each
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        raise SystemExit(EXIT_INPUT) from None
    except outdir.UnsafeOutput as exc:
        fail(str(exc), EXIT_INPUT)
    click.echo(f"{directory}: {len(written)} file(s) written, {len(tree) - len(written)} already there")
    click.echo(f"next: cd {directory} && {command('synth')}")
