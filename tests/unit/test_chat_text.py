"""Client message parsing and chat text cleaning."""

import pytest
from watchparty_wire.room import Empty, Keypress

from controlplane.errors import DomainError
from controlplane.realtime import messages as m
from controlplane.rooms.text import clean_text


def test_control_characters_go_newlines_and_emoji_stay():
    text = "hi\x00\x07 there\r\nline two\t<b>bold</b> 👩‍👩‍👧 🇫🇷\u202eevil"
    assert clean_text(text) == "hi there\nline two <b>bold</b> 👩‍👩‍👧 🇫🇷evil"


def test_whitespace_only_is_empty():
    assert clean_text(" \x01\n\t ") == ""


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("not json", "bad_json"),
        ("[1,2]", "bad_message"),
        ('{"data": {}}', "bad_message"),
        ('{"type": "chat.send", "data": []}', "bad_message"),
        ('{"type": "nope"}', "unknown_type"),
        ('{"type": "chat.send", "data": {}}', "invalid"),
        ('{"type": "browser.click", "data": {"x": 2, "y": 0, "button": "left"}}', "invalid"),
        ('{"type": "browser.click", "data": {"x": 0.5, "y": 0.5, "button": "x"}}', "invalid"),
        ('{"type": "browser.keypress", "data": {"key": "a", "modifiers": ["hyper"]}}', "invalid"),
        ('{"type": "remote.grant", "data": {"user_id": "not-a-uuid"}}', "invalid"),
    ],
)
def test_bad_messages(raw, code):
    with pytest.raises(DomainError) as e:
        m.parse(raw)
    assert e.value.code == code


def test_good_messages():
    assert m.parse('{"type": "remote.take"}') == ("remote.take", Empty())
    t, msg = m.parse(
        '{"type": "browser.keypress", "data": {"key": "a", "code": "KeyA", "modifiers": ["ctrl"]}}'
    )
    assert t == "browser.keypress" and msg == Keypress(key="a", code="KeyA", modifiers=["ctrl"])
