"""The cosmetic rules as a script the agent adds to every document of the room's browser
(`Page.addScriptToEvaluateOnNewDocument` in an isolated world of its own: the page cannot see the
script, only the style element it adds, like any blocker's).

The script holds the generic selectors, the per-domain exceptions and the domains with no
cosmetic rules; in each frame it leaves out what the frame's host (or a parent domain) excepts
and adds one `<style>` with one rule per selector (a selector the browser cannot parse drops only
its own rule), at the document's start (before the page's own elements are drawn).
"""

from __future__ import annotations

import json

from .filters import Filters

WORLD = "wp-adblock"
STYLE_ID = "wp-adblock-style"

_TEMPLATE = """(() => {
  const DATA = %(data)s;
  const ID = %(style_id)s;
  const old = document.getElementById(ID);
  if (old) old.remove();
  if (!DATA.on) return;
  const host = (location.hostname || "").toLowerCase();
  const parts = host.split(".");
  const skip = new Set();
  for (let i = 0; i < parts.length; i++) {
    const d = parts.slice(i).join(".");
    if (DATA.none.includes(d)) return;
    for (const s of DATA.except[d] || []) skip.add(s);
  }
  const css = DATA.selectors.filter((s) => !skip.has(s))
    .map((s) => s + "{display:none!important}").join("\\n");
  const style = document.createElement("style");
  style.id = ID;
  style.textContent = css;
  const put = () => {
    const root = document.documentElement;
    if (!root) return false;
    root.appendChild(style);
    return true;
  };
  if (!put()) {
    const watch = new MutationObserver(() => { if (put()) watch.disconnect(); });
    watch.observe(document, { childList: true });
  }
})();"""


def source(filters: Filters, *, on: bool = True) -> str:
    """The script for `filters` (`on=False`: the one that removes the style again)."""
    data = {
        "on": on,
        "selectors": list(filters.selectors) if on else [],
        "except": {d: sorted(s) for d, s in filters.selector_exceptions.items()} if on else {},
        "none": sorted(filters.no_cosmetic) if on else [],
    }
    return _TEMPLATE % {"data": json.dumps(data), "style_id": json.dumps(STYLE_ID)}
