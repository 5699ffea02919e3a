"""The room browser's tabs, the pure part (browser-image/roomagent/tabs.py), without a browser:
which tab comes to the front when the one on screen closes, the cap, what `tabs.state` says
(cut as the wire cuts it), and that `tabs.state` as the agent builds it is what the control
plane reads."""

from __future__ import annotations

import pytest
from roomagent.tabs import Tab, after_close, may_open, refuse_full, state
from watchparty_wire.agent import AgentTabsState


@pytest.mark.parametrize(
    ("order", "closing", "following"),
    [
        (["a", "b", "c"], "a", "b"),  # the one after it
        (["a", "b", "c"], "b", "c"),
        (["a", "b", "c"], "c", "b"),  # the last: the one before it
        (["a"], "a", None),  # nothing left
        (["a", "b"], "x", "a"),  # not a tab: the first
        ([], "x", None),
    ],
)
def test_the_next_tab_after_a_close(order: list[str], closing: str, following: str | None) -> None:
    assert after_close(order, closing) == following


def test_the_cap() -> None:
    assert may_open(4, 5) and not may_open(5, 5) and not may_open(6, 5)
    refused = refuse_full(5)
    assert refused.code == "too_many_tabs"
    assert str(refused) == "The room's browser has at most 5 tabs"


async def test_the_state_lists_tabs_in_order_cut_to_size() -> None:
    a, b = Tab("A", "s1"), Tab("B", "s2")
    a.set_info({"title": "T" * 1000, "url": "https://example.com/" + "u" * 5000})
    b.set_info({"title": "Docs", "url": "https://example.com/docs"})
    data = state([a, b], "B", 5)
    assert data["active"] == "B" and data["max"] == 5
    assert [t["id"] for t in data["tabs"]] == ["A", "B"]
    assert len(data["tabs"][0]["title"]) == 300 and len(data["tabs"][0]["url"]) == 2048
    # What the agent sends is what the control plane reads, unchanged.
    assert AgentTabsState.model_validate(data).model_dump() == data
    assert b.stopped_loading.is_set() and not b.loading
