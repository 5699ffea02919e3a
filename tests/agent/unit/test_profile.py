"""The agent's side of the browser profile (browser-image/roomagent/profile.py), without a
browser: where it loads and saves, which saved cookies go back into Chromium, and the script
that puts local storage back."""

from __future__ import annotations

import json

from roomagent.profile import cookie_params, profile_url, seed_script


def test_the_profile_endpoint_is_on_the_agent_listener_it_dials():
    assert profile_url("ws://10.0.0.5:8001") == "http://10.0.0.5:8001/internal/agents/profile"
    assert profile_url("wss://cp.example/") == "https://cp.example/internal/agents/profile"


def test_saved_cookies_go_back_with_known_fields_only_and_expired_ones_dropped():
    saved = [
        {"name": "a", "value": "1", "domain": "x.example", "expires": 2000.0, "size": 2},
        {"name": "gone", "value": "1", "domain": "x.example", "expires": 500.0},
        {"name": "session", "value": "1", "domain": "x.example", "expires": -1, "session": True},
        {"name": "", "value": "nameless", "domain": "x.example"},
        "not a cookie",
    ]
    out = cookie_params(saved, now=1000.0)  # type: ignore[arg-type]
    assert [c["name"] for c in out] == ["a", "session"]
    assert all("size" not in c and "session" not in c for c in out)


def test_seed_script_names_each_origin_and_leaves_existing_keys():
    script = seed_script({"https://a.example": {"k": 'v"</script>'}, "https://empty": {}})
    assert json.dumps({"https://a.example": {"k": 'v"</script>'}}) in script
    assert "localStorage.getItem(k) === null" in script
    assert "https://empty" not in script
