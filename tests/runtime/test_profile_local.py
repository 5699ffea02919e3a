""" "Keep my browser profile" with real room browsers (local runtime: agent, Xvfb, Chromium),
on both database backends: signed in to a site in one room, the host is still signed in in the
next room they host with the option on; the stored blob holds neither the cookie's value nor the
local storage in clear; another user's room is not signed in; "Forget" removes it.

The profile goes through the control plane both ways (the agent's GET/PUT with its room secret),
saved as the room ends."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from controlplane.models import BrowserProfile
from tests.support.backends import settings_for
from tests.support.processes import gone_within
from tests.support.rooms import Live, Socket, create_room, live_server, room_socket
from tests.support.signin_site import Site, signin_site
from tests.support.users import SignedIn, signed_in

pytestmark = pytest.mark.x11


@pytest.fixture
def site() -> Iterator[Site]:
    with signin_site() as s:
        yield s


async def title_shown(sock: Socket, title: str, within: float = 45) -> dict[str, Any]:
    """The room's browser showing a page whose title is `title` (its room.state or a status)."""
    state = sock.of_type("room.state")[-1]["data"]
    if (state.get("browser") or {}).get("title") == title:
        return dict(state["browser"])
    msg = await sock.expect("browser.status", title=title, loading=False, within=within)
    return dict(msg["data"])


async def run_room(live: Live, who: SignedIn, url: str, title: str, **choices: Any) -> str:
    """A room of `who` opening `url`, until its page shows `title`; then ended (its browser
    gone). Its code."""
    room = await create_room(live.http, who.headers, start_url=url, **choices)
    sock = await room_socket(live.ws_url, room["code"], who.access_token)
    try:
        await title_shown(sock, title)
    finally:
        await sock.close()
        resp = await live.http.post(f"/api/rooms/{room['code']}/end", headers=who.headers)
        assert resp.status_code == 200, resp.text
    deployment = live.app_settings.deployment_id
    assert await asyncio.to_thread(gone_within, deployment, room["id"], 20) == []
    return str(room["code"])


async def stored(live: Live, user: SignedIn) -> BrowserProfile | None:
    async with live.app.state.ctx.sessionmaker() as s:
        return await s.get(BrowserProfile, uuid.UUID(user.id))


async def test_signed_in_again_in_the_next_room_and_nowhere_else(settings_factory, site):
    settings = await settings_for(settings_factory)
    async with live_server(settings, runtime=False) as live:
        ctx = live.app.state.ctx
        try:
            ann = await signed_in(live.http)
            ben = await signed_in(live.http)
            name = ann.username
            await run_room(
                live, ann, site.login_url(name), f"user={name};ls=dark-{name}", keep_profile=True
            )
            (cookie_value,) = site.sessions  # the one login: the session cookie's value
            row = await stored(live, ann)
            assert row is not None, "the profile was saved as the room ended"
            assert cookie_value.encode() not in row.sealed
            assert b"dark-" not in row.sealed and b"wp_site_session" not in row.sealed

            # Ann's next room with the option: signed in at once, local storage back too.
            await run_room(live, ann, site.home(), f"user={name};ls=dark-{name}", keep_profile=True)
            # Without the option her room is a clean browser.
            await run_room(live, ann, site.home(), "user=none;ls=null")
            # Ben's room, with the option: his own (empty) profile, never Ann's.
            await run_room(live, ben, site.home(), "user=none;ls=null", keep_profile=True)

            resp = await live.http.delete("/api/users/me/profile", headers=ann.headers)
            assert resp.status_code == 204
            assert await stored(live, ann) is None
            await run_room(live, ann, site.home(), "user=none;ls=null", keep_profile=True)
        finally:
            for info in await ctx.runtime.list_managed():
                await ctx.runtime.stop(runtime_ref=info.runtime_ref)
