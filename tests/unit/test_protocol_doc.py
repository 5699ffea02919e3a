"""docs/protocol.md stays true to the one wire contract (`watchparty_wire`): its message tables
name exactly the messages of the package's four tables, and every example in the server →
client table is a valid message of its type."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from watchparty_wire.agent import AGENT_MESSAGES, CONTROL_MESSAGES
from watchparty_wire.room import CLIENT_MESSAGES, ROOM_MESSAGES

PROTOCOL = (Path(__file__).resolve().parents[2] / "docs" / "protocol.md").read_text()


def section(title: str) -> str:
    """The text under a `### title` heading, up to the next heading."""
    start = PROTOCOL.index(f"### {title}\n")
    end = re.compile(r"^##", re.M).search(PROTOCOL, start + 4)
    return PROTOCOL[start : end.start() if end else None]


def table_rows(title: str) -> list[list[str]]:
    rows = [line for line in section(title).splitlines() if line.startswith("| `")]
    return [[cell.strip() for cell in row.strip("|").split(" | ")] for row in rows]


def types_in(title: str) -> set[str]:
    """Message types in the table's first column (`a` / `b` / `c` counts three)."""
    return {t for row in table_rows(title) for t in re.findall(r"`([a-z_.]+)`", row[0])}


def test_server_to_client_table_is_what_rooms_receive():
    # room.state has a section of its own above the table.
    assert types_in("Server → client") | {"room.state"} == set(ROOM_MESSAGES)


def test_control_plane_to_agent_table_is_what_agents_receive():
    documented = types_in("Control plane → agent")
    # auth.ok is under "Authentication"; error replies are in the text under the table.
    assert documented | {"auth.ok", "error"} == set(CONTROL_MESSAGES)
    assert "auth.ok" in section("Authentication")
    assert "error {code:" in section("Control plane → agent")


def test_inbound_tables_are_what_the_code_parses():
    assert types_in("Agent → control plane") == set(AGENT_MESSAGES)
    assert types_in("Client → server") == set(CLIENT_MESSAGES)


@pytest.mark.parametrize(
    "row", table_rows("Server → client"), ids=lambda row: row[0].strip("`").split("`")[0]
)
def test_server_to_client_examples_are_valid_messages(row: list[str]):
    type_ = row[0].strip("`")
    example = row[1].strip("`")
    ROOM_MESSAGES[type_].model_validate(json.loads(example))
