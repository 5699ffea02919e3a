"""The pinned requirements of one program, from pyproject.toml (the one source of pins):

    python3 scripts/requirements.py agent          # the room agent (browser image)
    python3 scripts/requirements.py controlplane   # the control plane (its image)

prints the dependencies every program shares (`[project] dependencies`) and the program's own
(`[project.optional-dependencies]`), one a line, as `pip install -r` takes them. Standard
library only: the images' build stages run it with Debian's python3 before any venv exists.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path
from typing import Any

PROGRAMS = ("agent", "controlplane")


def requirements(pyproject: dict[str, Any], program: str) -> list[str]:
    if program not in PROGRAMS:
        raise SystemExit(f"unknown program {program!r}: one of {', '.join(PROGRAMS)}")
    project = pyproject["project"]
    return [*project["dependencies"], *project["optional-dependencies"][program]]


def main(argv: list[str]) -> None:
    if len(argv) not in (2, 3):
        raise SystemExit(f"usage: {argv[0]} {{{'|'.join(PROGRAMS)}}} [pyproject.toml]")
    default = Path(__file__).resolve().parents[1] / "pyproject.toml"
    path = Path(argv[2]) if len(argv) == 3 else default
    print("\n".join(requirements(tomllib.loads(path.read_text()), argv[1])))


if __name__ == "__main__":
    main(sys.argv)
