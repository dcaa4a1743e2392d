"""Seal: the S3 version of every artifact a run registers, so what is approved is what is promoted.

The pipeline runs this after Evaluate with one ``--artifact NAME s3://bucket/key`` per artifact
the Register step names (the model, the data-quality baselines, the evaluation report). It
writes ``seal.json`` to ``--output-dir``: ``{"versions": {NAME: VersionId}}``. The Register step
reads it into the package's metadata (``mlgov:version:<field path>``); the hub's promotion
copies exactly those versions and refuses an object overwritten since. An object without a
real version (an unversioned bucket answers ``null``) fails the run: it could not be sealed.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

S3_URL = re.compile(r"^s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(?P<key>[^/].*)$")
NAME = re.compile(r"^[a-z][a-z0-9_]*$")
OUTPUT_FILE = "seal.json"


class SealError(Exception):
    """An artifact cannot be sealed."""


def arguments(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artifact", nargs=2, action="append", metavar=("NAME", "URL"), required=True)
    parser.add_argument("--output-dir", default="/opt/ml/processing/seal")
    parser.add_argument("--region", default=None)
    args, _unknown = parser.parse_known_args(argv)
    return args


def versions(artifacts: Sequence[Sequence[str]], head: Callable[..., dict[str, Any]]) -> dict[str, str]:
    """``{name: current S3 version}`` of each ``(name, url)``; ``head`` is S3's HeadObject."""
    sealed: dict[str, str] = {}
    for name, url in artifacts:
        if not NAME.match(name) or name in sealed:
            raise SealError(f"artifact name {name!r} is not a new lower-case identifier")
        match = S3_URL.match(url)
        if not match or match["key"].endswith("/"):
            raise SealError(f"artifact {name} is not an S3 object URL (got {url!r})")
        version = head(Bucket=match["bucket"], Key=match["key"]).get("VersionId")
        if not version or version == "null":
            raise SealError(f"artifact {name} ({url}) has no S3 version: its bucket must be versioned")
        sealed[name] = version
    return sealed


def main(argv: Sequence[str], head: Callable[..., dict[str, Any]] | None = None) -> int:
    args = arguments(argv)
    if head is None:
        import boto3  # in the processing image; not needed by the tests

        head = boto3.client("s3", region_name=args.region).head_object
    try:
        sealed = versions(args.artifact, head)
    except SealError as exc:
        print(f"seal: {exc}", file=sys.stderr)
        return 2
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / OUTPUT_FILE).write_text(json.dumps({"versions": sealed}, sort_keys=True, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
