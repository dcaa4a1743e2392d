"""Errors a user can cause, carried as data so the CLI can print one line each."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input, located as precisely as we can.

    Attributes:
        file: path of the spec file as the user gave it.
        line: 1-based line number, or None when no line applies (e.g. empty file).
        path: dotted field path inside the spec (``teams.fraud.stages[0].account``).
        message: what is wrong, ideally with ``(got X, expected Y)``.
    """

    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class SpecError(Exception):
    """The spec is unusable; carries every problem found, in file order."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(problems, key=lambda p: (p.file, p.line or 0, p.path, p.message))
        super().__init__("\n".join(str(p) for p in self.problems))


class MlgovError(Exception):
    """Any other user-facing failure (missing tool, unreadable directory, immutable version)."""
