"""The README stays true: every setting is in its configuration table, and the two commands lead."""

from __future__ import annotations

import re
from pathlib import Path

from controlplane.settings import Settings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_every_setting_is_documented():
    table = {
        name
        for cell in re.findall(r"^\| `([A-Z_]+)`(?: / `([A-Z_]+)`)? \|", README, re.M)
        for name in cell
        if name
    }
    missing = set(Settings.model_fields) - table
    assert not missing, f"settings missing from the README table: {sorted(missing)}"
    stale = table - set(Settings.model_fields)
    assert not stale, f"README documents settings that do not exist: {sorted(stale)}"


def test_readme_opens_with_the_two_commands():
    head = README.split("```", 2)[1]
    assert "make run" in head and "make test" in head
