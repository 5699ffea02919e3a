"""The ad blocker's list compiler (browser-image/roomagent/adblock/filters.py) and its cosmetic
script (adblock/script.py), without a browser: which EasyList lines become refused hosts, allowed
hosts and hidden selectors, which are left out, and how a request's host is judged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from roomagent.adblock import script
from roomagent.adblock.filters import Filters, compile_lists, list_files, load_lists, safe_selector

LIST = """[Adblock Plus 2.0]
! Title: a small EasyList
||doubleclick.net^
||ads.example.org^$third-party
||tracker.example^$important,3p
||cdn.example.com^$script
||partial.example.com/ads/*
/banner/*/ad_
|https://exact.example/
@@||safe.doubleclick.net^
@@||news.example^$generichide
@@||video.example^$image
0.0.0.0 hosts-file.example
127.0.0.1 localhost
##.adsbygoogle
##.ad-banner
##div[id^="div-gpt-ad"]
~site.example##.sponsored
site.example,other.example##.only-there
news.example#@#.ad-banner
example.com#?#.x:-abp-has(.ad)
example.com##+js(set-constant, x, 1)
##.evil{}body{display:none}
##.comment/*
##.row:has-text(Sponsored)
##^script:has-text(ads)
##a[href^="https://ad."]:not(.keep)
"""


@pytest.fixture(scope="module")
def filters() -> Filters:
    return compile_lists([LIST])


def test_whole_host_rules_become_the_host_set(filters: Filters) -> None:
    assert filters.hosts == {
        "doubleclick.net",
        "ads.example.org",
        "tracker.example",
        "hosts-file.example",
    }
    # narrowing options, paths, patterns and hosts files' localhost are left out
    assert "cdn.example.com" not in filters.hosts
    assert "partial.example.com" not in filters.hosts
    assert "localhost" not in filters.hosts
    assert filters.allowed_hosts == {"safe.doubleclick.net"}
    assert filters.no_cosmetic == {"news.example"}


@pytest.mark.parametrize(
    ("url", "blocked"),
    [
        ("https://doubleclick.net/x.js", True),
        ("https://securepubads.g.doubleclick.net/tag/js/gpt.js", True),
        ("http://DoubleClick.NET:8080/ad.html", True),
        ("wss://ads.example.org/socket", True),
        ("https://safe.doubleclick.net/frame", False),  # the exception wins
        ("https://a.safe.doubleclick.net/frame", False),
        ("https://notdoubleclick.net/", False),  # a suffix of the name, not a parent domain
        ("https://doubleclick.net.example.com/", False),
        ("https://example.com/?ref=doubleclick.net", False),
        ("data:text/html,doubleclick.net", False),
        ("blob:https://doubleclick.net/1", False),
        ("https://[::1]/", False),
        ("not a url", False),
    ],
)
def test_a_request_is_judged_by_its_host(filters: Filters, url: str, blocked: bool) -> None:
    assert filters.blocks(url) is blocked


def test_generic_cosmetic_rules_only_plain_css(filters: Filters) -> None:
    assert filters.selectors == (
        ".adsbygoogle",
        ".ad-banner",
        'div[id^="div-gpt-ad"]',
        ".sponsored",
        'a[href^="https://ad."]:not(.keep)',
    )
    # `~site.example##` hides everywhere but there; `#@#` excepts a generic rule on one site
    assert filters.selector_exceptions == {
        "site.example": frozenset({".sponsored"}),
        "news.example": frozenset({".ad-banner"}),
    }


@pytest.mark.parametrize(
    "selector",
    [
        ".a{}",
        "x}y",
        ".a;b",
        ".a/*",
        "*/",
        "@import url(x)",
        ".a:has-text(x)",
        ".a:-abp-has(.b)",
        "+js(noop)",
        "^script",
        ".a:upward(2)",
        ".a:style(color: red)",
        "x" * 1001,
        "",
    ],
)
def test_unsafe_or_procedural_selectors_are_refused(selector: str) -> None:
    assert not safe_selector(selector)


def test_lists_are_found_at_any_depth_in_a_fixed_order(tmp_path: Path) -> None:
    deep = tmp_path / "assets" / "thirdparties"
    (deep / "pgl.yoyo.org" / "as").mkdir(parents=True)
    (deep / "easylist").mkdir(parents=True)
    (deep / "pgl.yoyo.org" / "as" / "serverlist").write_text("0.0.0.0 lowe.example\n")
    (deep / "easylist" / "easyprivacy.txt").write_text("||privacy.example^\n")
    (deep / "easylist" / "easylist.txt").write_text("||ads.example^\n##.ad-slot\n")
    (tmp_path / "unrelated.txt").write_text("||not-a-list.example^\n")
    assert [p.name for p in list_files(tmp_path)] == [
        "easylist.txt",
        "easyprivacy.txt",
        "serverlist",
    ]
    loaded = load_lists(tmp_path)
    assert loaded.hosts == {"ads.example", "privacy.example", "lowe.example"}
    assert loaded.selectors == (".ad-slot",)


def test_no_lists_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_lists(tmp_path)
    with pytest.raises(FileNotFoundError):
        load_lists(tmp_path / "missing")


def test_the_cosmetic_script_carries_the_rules_as_data(filters: Filters) -> None:
    on = script.source(filters)
    data = json.loads(on.split("const DATA = ", 1)[1].split(";\n", 1)[0])
    assert data["on"] is True
    assert data["selectors"] == list(filters.selectors)
    assert data["except"] == {"site.example": [".sponsored"], "news.example": [".ad-banner"]}
    assert data["none"] == ["news.example"]
    off = script.source(filters, on=False)
    data = json.loads(off.split("const DATA = ", 1)[1].split(";\n", 1)[0])
    assert data == {"on": False, "selectors": [], "except": {}, "none": []}
    assert script.STYLE_ID in off
