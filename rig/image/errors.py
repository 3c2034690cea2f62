"""Problems found in an OTA file, and the exception that carries them.

A `Problem` pins one defect to a byte offset and a field so that a user can open the file in a hex
editor and see it; `ImageError` bundles every problem found, not just the first.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Problem:
    """One defect: where it is (`offset`, `field`), what was `found`, what was `expected`."""

    offset: int
    field: str
    found: str
    expected: str
    message: str = ""
    kind: str = ""  # for warnings: what a bench may choose to make fatal ("integrity", "trailing-bytes", ...)

    def describe(self, source: str = "<bytes>") -> str:
        text = f"{source}: offset 0x{self.offset:02X} ({self.field}): found {self.found}, expected {self.expected}"
        if self.message:
            text += f" - {self.message}"
        return text

    def __str__(self) -> str:
        return self.describe()


class ImageError(Exception):
    """An OTA file could not be parsed or built. `problems` lists every defect found."""

    def __init__(self, problems: list[Problem], source: str = "<bytes>") -> None:
        self.problems: list[Problem] = list(problems)
        self.source = source
        super().__init__(str(self))

    def __str__(self) -> str:
        if not self.problems:
            return f"{self.source}: invalid OTA image"
        return "\n".join(p.describe(self.source) for p in self.problems)


@dataclass
class Findings:
    """Problems collected while reading a file, split by consequence.

    `fatal` problems leave the file's structure undecidable (wrong magic, lengths that do not add up),
    so parsing refuses the file. `content` problems are defects in a file we can still read (hardware
    range upside down, duplicate elements); parsing returns, validation reports them. `warnings` are
    departures from the specification that real devices live with (bytes after the declared end, an
    integrity code that matches neither coverage, a reserved tag): the image is served; a bench may make
    a kind of warning fatal (see `Problem.kind`).
    """

    fatal: list[Problem] = field(default_factory=list)
    content: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    def all(self) -> list[Problem]:
        return sorted(self.fatal + self.content, key=lambda p: p.offset)
