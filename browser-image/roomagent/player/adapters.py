"""Site adapters: how a site's player is driven, looked up by the host of the frame that holds
the main media element.

The generic HTML5 adapter drives the element itself (`play()`, `pause()`, `currentTime`,
`playbackRate`) in the watcher's isolated world: plain `<video>` pages and YouTube-like players,
which follow their element's events, work with it. A site whose player keeps its own notion of
time and must be told through its API registers an adapter for its host; its `command` returns
the expression to run and `main_world` says whether it must run in the page's own JavaScript
(the top frame of its DevTools target: a player API lives there, not in our isolated world).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from . import script


@dataclass(frozen=True)
class Adapter:
    name: str = "html5"
    # True: `command` runs in the main world of the frame's target (its page JavaScript).
    main_world: bool = False

    def command(self, element: int, action: str, value: float | None) -> str:
        return script.command(element, action, value)


GENERIC = Adapter()
# Host (a registered domain or a full host name) -> adapter; a host's parent domains match too.
REGISTRY: dict[str, Adapter] = {}


def register(host: str, adapter: Adapter) -> None:
    REGISTRY[host.lower().strip(".")] = adapter


def adapter_for(url: str) -> Adapter:
    """The adapter of the most specific registered domain of `url`'s host, else the generic one."""
    host = (urlsplit(url).hostname or "").lower()
    labels = host.split(".") if host else []
    for i in range(len(labels)):
        adapter = REGISTRY.get(".".join(labels[i:]))
        if adapter is not None:
            return adapter
    return GENERIC
