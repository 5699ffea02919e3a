"""The key policy table (roomagent/input/keypolicy.py), pure: what the injector would press is
what is judged, not what the viewer's `code` claims."""

from __future__ import annotations

from pathlib import Path

import pytest
from roomagent.input.keypolicy import RULES, blocked


@pytest.mark.parametrize(
    ("key", "code", "mods", "name"),
    [
        ("F12", "F12", [], "F12"),
        ("I", "KeyI", ["ctrl", "shift"], "Ctrl+Shift+I"),
        # An upper-case letter is pressed with Shift: Ctrl+"I" is Ctrl+Shift+I to Chromium.
        ("I", "KeyI", ["ctrl"], "Ctrl+Shift+I"),
        ("O", "KeyO", ["ctrl"], "Ctrl+Shift+O"),
        ("o", "KeyO", ["ctrl"], "Ctrl+O"),
        # The key decides, not the code a client claims.
        ("o", "KeyA", ["ctrl"], "Ctrl+O"),
        # More modifiers than the rule's still match.
        ("w", "KeyW", ["ctrl", "alt"], "Ctrl+W"),
        ("F4", "F4", ["alt"], "Alt+F4"),
        ("Tab", "Tab", ["ctrl", "shift"], "Ctrl+Tab"),
        ("ContextMenu", "ContextMenu", [], "Menu"),
        ("Escape", "Escape", ["shift"], "Shift+Escape"),
    ],
)
def test_blocked(key: str, code: str, mods: list[str], name: str) -> None:
    rule = blocked(key, code, mods)
    assert rule is not None and rule.name == name


@pytest.mark.parametrize(
    ("key", "code", "mods"),
    [
        ("a", "KeyA", ["ctrl"]),
        ("c", "KeyC", ["ctrl"]),
        ("v", "KeyV", ["ctrl"]),
        ("f", "KeyF", ["ctrl"]),
        ("o", "KeyO", []),
        ("F5", "F5", []),
        ("Escape", "Escape", []),
        ("ArrowLeft", "ArrowLeft", ["alt"]),
        ("Dead", "", ["ctrl"]),
    ],
)
def test_allowed(key: str, code: str, mods: list[str]) -> None:
    assert blocked(key, code, mods) is None


def test_every_rule_names_a_key_x_knows_and_is_unique() -> None:
    names = [rule.name for rule in RULES]
    assert len(names) == len(set(names))


def test_the_documented_table_is_the_code_table() -> None:
    """docs/architecture.md lists every rule (ranges of digits and PageUp/PageDown written once)."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "architecture.md").read_text()
    for rule in RULES:
        name = rule.name.replace("Prior", "PageUp/PageDown").replace("Next", "PageUp/PageDown")
        if rule.key.isdigit():
            name = name[: -len(rule.key)] + "1…9"
        assert name in doc, name
