"""Ad-block filter lists (EasyList syntax) compiled into what the agent can apply over DevTools:
a set of ad and tracker hosts whose requests are refused, and the generic cosmetic rules (CSS
selectors hidden on every page). Pure: text in, `Filters` out; no I/O but `load_lists`.

What is kept, on purpose a compact subset of the syntax (docs/architecture.md, "Ad blocker"):
- `||host^` (a whole host and its subdomains), with no options or only options that do not
  narrow it (`third-party`, `3p`, `important`, `all`): the host is refused. Rules with a path,
  a wildcard, a regular expression or a narrowing option (`$script`, `$domain=`, ...) are left
  out: a host set cannot express them, and applying them to the whole host would break sites.
- `@@||host^` (same options): that host and its subdomains are never refused.
- `@@||host^$generichide` (or `ghide`, `elemhide`, `ehide`): no cosmetic rules on that site.
- `0.0.0.0 host` / `127.0.0.1 host` lines (hosts-file lists): the host is refused.
- `##selector` (no domains, or only `~domain` exclusions): hidden everywhere (but on the
  excluded domains); `domain#@#selector`: not hidden on that domain. Procedural and scriptlet
  rules (`#?#`, `#$#`, `##+js(...)`, `:has-text(...)`, ...) and domain-specific `domain##` rules
  are left out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

_HOST = re.compile(
    r"^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)+$"
)
# Options that leave a `||host^` rule applying to the whole host.
_WHOLE_HOST_OPTIONS = frozenset({"third-party", "3p", "important", "all"})
_NO_COSMETIC_OPTIONS = frozenset({"generichide", "ghide", "elemhide", "ehide"})
# Extended selectors of uBlock Origin / AdGuard / ABP: not CSS, a browser would refuse the rule.
_PROCEDURAL = re.compile(
    r":(-abp-|has-text|xpath|style|remove|matches-|upward|min-text-length|watch-attr|others"
    r"|if\(|if-not|nth-ancestor|spath|contains|-ext-)"
)
# A selector that could end its rule or open another (`{`, `}`), comment out the rules after it
# (`/*`) or start an at-rule is not CSS we write into a page.
_UNSAFE_SELECTOR = re.compile(r"[{};]|/\*|\*/|^@|\\$")
MAX_SELECTOR_CHARS = 1000
_HOSTS_FILE_ADDRESSES = ("0.0.0.0", "127.0.0.1")


@dataclass(frozen=True)
class Filters:
    """The compiled lists. `blocks` answers for a request URL; `selectors` are hidden on every
    page but those `selector_exceptions` (by domain) or `no_cosmetic` exempt."""

    hosts: frozenset[str] = frozenset()
    allowed_hosts: frozenset[str] = frozenset()
    selectors: tuple[str, ...] = ()
    selector_exceptions: dict[str, frozenset[str]] = field(default_factory=dict)
    no_cosmetic: frozenset[str] = frozenset()

    def blocks_host(self, host: str) -> bool:
        """The host or one of its parent domains is listed, and none is allowed."""
        suffixes = list(_suffixes(host.lower().rstrip(".")))
        if not any(s in self.hosts for s in suffixes):
            return False
        return not any(s in self.allowed_hosts for s in suffixes)

    def blocks(self, url: str) -> bool:
        """A request to `url` is refused: an http(s) or ws(s) URL on a blocked host."""
        try:
            parts = urlsplit(url)
            host = parts.hostname
        except ValueError:
            return False
        if parts.scheme not in ("http", "https", "ws", "wss") or not host:
            return False
        return self.blocks_host(host)

    def summary(self) -> dict[str, int]:
        return {
            "hosts": len(self.hosts),
            "allowed_hosts": len(self.allowed_hosts),
            "selectors": len(self.selectors),
            "exception_domains": len(self.selector_exceptions),
        }


def _suffixes(host: str) -> Iterable[str]:
    """`a.b.c` → `a.b.c`, `b.c`, `c`."""
    parts = host.split(".")
    for i in range(len(parts)):
        yield ".".join(parts[i:])


def _host(text: str) -> str | None:
    host = text.strip().lower().rstrip(".")
    return host if _HOST.match(host) else None


def safe_selector(selector: str) -> bool:
    """Plain CSS we may write into a page's style sheet as `selector{display:none!important}`."""
    return (
        0 < len(selector) <= MAX_SELECTOR_CHARS
        and not _UNSAFE_SELECTOR.search(selector)
        and not _PROCEDURAL.search(selector)
        and not selector.startswith("+js(")
        and not selector.startswith("^")
    )


@dataclass
class _Builder:
    hosts: set[str] = field(default_factory=set)
    allowed: set[str] = field(default_factory=set)
    selectors: dict[str, None] = field(default_factory=dict)  # ordered, unique
    exceptions: dict[str, set[str]] = field(default_factory=dict)
    no_cosmetic: set[str] = field(default_factory=set)

    def line(self, raw: str) -> None:
        line = raw.strip()
        if not line or line.startswith(("!", "[", "#!")):
            return
        if "#@#" in line:
            self._cosmetic_exception(line)
        elif "##" in line:
            self._cosmetic(line)
        elif line.startswith(_HOSTS_FILE_ADDRESSES):
            fields = line.split()
            if len(fields) >= 2 and (host := _host(fields[1])) and host not in ("localhost",):
                self.hosts.add(host)
        elif "#" in line and re.search(r"#[?$%@]?[$?%]#", line):
            return  # procedural, snippet or script rules of other blockers
        else:
            self._network(line)

    def _network(self, line: str) -> None:
        allow = line.startswith("@@")
        body = line[2:] if allow else line
        rule, _, opts = body.partition("$")
        if not rule.startswith("||") or not rule.endswith("^"):
            return
        host = _host(rule[2:-1])
        if host is None:
            return
        options = {o.strip().lower() for o in opts.split(",") if o.strip()} if opts else set()
        if allow and options and options <= _NO_COSMETIC_OPTIONS:
            self.no_cosmetic.add(host)
            return
        if not options <= _WHOLE_HOST_OPTIONS:
            return
        (self.allowed if allow else self.hosts).add(host)

    def _cosmetic(self, line: str) -> None:
        domains, _, selector = line.partition("##")
        selector = selector.strip()
        if not safe_selector(selector):
            return
        names = [d.strip().lower() for d in domains.split(",") if d.strip()]
        if any(not d.startswith("~") for d in names):
            return  # a domain-specific rule: left out (generic rules only)
        self.selectors.setdefault(selector, None)
        for name in names:
            if host := _host(name[1:]):
                self.exceptions.setdefault(host, set()).add(selector)

    def _cosmetic_exception(self, line: str) -> None:
        domains, _, selector = line.partition("#@#")
        selector = selector.strip()
        for name in domains.split(","):
            host = _host(name)
            if host and selector:
                self.exceptions.setdefault(host, set()).add(selector)

    def build(self) -> Filters:
        return Filters(
            hosts=frozenset(self.hosts),
            allowed_hosts=frozenset(self.allowed),
            selectors=tuple(self.selectors),
            selector_exceptions={d: frozenset(s) for d, s in self.exceptions.items()},
            no_cosmetic=frozenset(self.no_cosmetic),
        )


def compile_lists(texts: Iterable[str]) -> Filters:
    """Every list's lines, in order, into one `Filters`."""
    builder = _Builder()
    for text in texts:
        for raw in text.splitlines():
            builder.line(raw)
    return builder.build()


# The list files the agent reads from its lists directory (WP_ADBLOCK_LISTS), found at any depth:
# the Debian package's layout changes between versions, their names do not.
LIST_NAMES = ("easylist.txt", "easyprivacy.txt", "serverlist", "serverlist.txt")


def list_files(directory: Path) -> list[Path]:
    """The filter lists under `directory`, in `LIST_NAMES` order (one file per name)."""
    found: list[Path] = []
    for name in LIST_NAMES:
        matches = sorted(p for p in directory.rglob(name) if p.is_file())
        if matches:
            found.append(matches[0])
    return found


def load_lists(directory: Path) -> Filters:
    """Compile the lists under `directory`; FileNotFoundError when there are none."""
    files = list_files(directory) if directory.is_dir() else []
    if not files:
        raise FileNotFoundError(f"no filter lists under {directory}")
    return compile_lists(p.read_text(encoding="utf-8", errors="replace") for p in files)
