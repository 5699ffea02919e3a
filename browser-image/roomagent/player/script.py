"""The JavaScript the watcher runs in each frame of the room's page, in an isolated world of its
own (`Page.createIsolatedWorld`): it shares the page's DOM but none of its JavaScript, so the page
neither sees `__wpMedia` nor can it change what `play`, `pause` or `currentTime` do for it, and
nothing here needs `Runtime.enable` (which pages can detect).

`INSTALL` is idempotent and sent with every look (a navigated frame's world is a new one).
`probe()` lists the frame's media elements as candidates (player/policy.py `Candidate`), those
inside open shadow roots too (players built as web components); `cmd(id, action, value)` drives
one of them and answers "ok" or "gone". Closed shadow roots stay out of reach (a site adapter's
job).
"""

from __future__ import annotations

import json

WORLD_NAME = "wp-media"
# Elements listed per frame at most (a page of hundreds of thumbnails' <video>s).
MAX_ELEMENTS = 50
# Open shadow roots searched per frame at most, and how often the page is walked again for new
# ones (the walk visits every element: once a second, not at every look).
MAX_SHADOW_ROOTS = 200
SHADOW_RESCAN_MS = 1000

INSTALL = (
    """
(() => {
  if (globalThis.__wpMedia) return;
  const ids = new WeakMap();
  const ends = new Map();
  let next = 1, byId = new Map();
  const idOf = (el) => {
    let id = ids.get(el);
    if (!id) { id = next++; ids.set(el, id); }
    return id;
  };
  // Media events do not bubble, but a capturing listener on the document sees them all: an end
  // is counted even if the page starts the medium again before the next look. They are not
  // composed either, so each shadow root gets a listener of its own.
  const onEnded = (e) => {
    if (e.target instanceof HTMLMediaElement) {
      const id = idOf(e.target);
      ends.set(id, (ends.get(id) || 0) + 1);
    }
  };
  document.addEventListener('ended', onEnded, true);
  const listened = new WeakSet();
  let roots = [], rootsAt = -Infinity;
  const shadowRoots = () => {
    const now = performance.now();
    if (now - rootsAt < SHADOW_RESCAN_MS) return roots.filter((r) => r.host.isConnected);
    rootsAt = now;
    const found = [];
    const walk = (root) => {
      for (const el of root.querySelectorAll('*')) {
        if (found.length >= MAX_SHADOW_ROOTS) return;
        const sr = el.shadowRoot;  // open roots only: a closed one is null here
        if (!sr) continue;
        found.push(sr);
        if (!listened.has(sr)) { listened.add(sr); sr.addEventListener('ended', onEnded, true); }
        walk(sr);
      }
    };
    walk(document);
    roots = found;
    return roots;
  };
  const area = (el) => {
    if (!el.isConnected || !(el instanceof HTMLVideoElement)) return 0;
    if (el.checkVisibility && !el.checkVisibility({checkOpacity: true, checkVisibilityCSS: true}))
      return 0;
    const r = el.getBoundingClientRect();
    const w = Math.min(r.right, innerWidth) - Math.max(r.left, 0);
    const h = Math.min(r.bottom, innerHeight) - Math.max(r.top, 0);
    return w > 0 && h > 0 ? w * h : 0;
  };
  const probe = () => {
    const meta = navigator.mediaSession && navigator.mediaSession.metadata;
    const title = meta && meta.title ? String(meta.title).slice(0, 300) : '';
    const els = [document, ...shadowRoots()]
      .flatMap((root) => Array.from(root.querySelectorAll('video, audio')))
      .slice(0, MAX_ELEMENTS);
    byId = new Map();
    return els.map((el) => {
      const id = idOf(el);
      byId.set(id, el);
      const d = el.duration;
      return {
        id, video: el instanceof HTMLVideoElement, area: area(el), ready: el.readyState,
        paused: el.paused, time: el.currentTime, duration: Number.isFinite(d) ? d : null,
        rate: el.playbackRate, muted: el.muted, ended: el.ended, ends: ends.get(id) || 0,
        title,
      };
    });
  };
  const clampTime = (el, t) => {
    const d = el.duration;
    if (Number.isFinite(d)) return Math.max(0, Math.min(t, d));
    const s = el.seekable;  // live: within what can be reached
    return s.length ? Math.max(s.start(0), Math.min(t, s.end(s.length - 1))) : Math.max(0, t);
  };
  const cmd = (id, action, value) => {
    const el = byId.get(id);
    if (!el || !el.isConnected) return 'gone';
    if (action === 'play') {
      const p = el.play();
      if (p) p.catch(() => {});  // refused or interrupted: the next state says so
    } else if (action === 'pause') {
      el.pause();
    } else if (action === 'seek') {
      el.currentTime = clampTime(el, value);
    } else if (action === 'seek_by') {
      el.currentTime = clampTime(el, el.currentTime + value);
    } else if (action === 'rate') {
      el.playbackRate = value;
    }
    return 'ok';
  };
  Object.defineProperty(globalThis, '__wpMedia', {value: {probe, cmd}});
})();
""".replace("MAX_ELEMENTS", str(MAX_ELEMENTS))
    .replace("MAX_SHADOW_ROOTS", str(MAX_SHADOW_ROOTS))
    .replace("SHADOW_RESCAN_MS", str(SHADOW_RESCAN_MS))
)

PROBE = INSTALL + "globalThis.__wpMedia.probe()"


def command(element: int, action: str, value: float | None) -> str:
    """The expression that drives element `element` of a frame whose world ran INSTALL."""
    return f"globalThis.__wpMedia.cmd({element}, {json.dumps(action)}, {json.dumps(value)})"
