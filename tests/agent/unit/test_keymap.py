"""Which key a shortcut names (roomagent/input/keymap.py `shortcut_key`)."""

from __future__ import annotations

import pytest
from roomagent.input.keymap import shortcut_key


@pytest.mark.parametrize(
    ("key", "mods", "sent"),
    [
        ("A", {"ctrl"}, "a"),  # Caps Lock on: Ctrl+A, not Ctrl+Shift+A
        ("C", {"meta"}, "c"),
        ("V", {"ctrl", "alt"}, "v"),
        ("A", {"ctrl", "shift"}, "A"),  # Shift really held: Ctrl+Shift+A as pressed
        ("A", set(), "A"),  # a capital typed with Caps Lock stays capital
        ("a", {"ctrl"}, "a"),
        ("É", {"ctrl"}, "é"),
        ("Enter", {"ctrl"}, "Enter"),  # named keys are not letters
        ("1", {"ctrl"}, "1"),
    ],
)
def test_a_letter_with_ctrl_alt_or_meta_and_no_shift_names_its_key(
    key: str, mods: set[str], sent: str
) -> None:
    assert shortcut_key(key, mods) == sent
