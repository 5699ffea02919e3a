"""The compiled filter lists kept as JSON (browser-image/roomagent/adblock/compiled.py): an agent
start reads a compiled copy of these very lists (the image's, or one an earlier agent kept)
instead of parsing them again, and never a copy of other lists, another compiler or a broken
file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from roomagent.adblock import compiled
from roomagent.adblock.filters import load_lists

EASYLIST = """[Adblock Plus 2.0]
||doubleclick.net^
||tracker.example^$third-party
@@||safe.doubleclick.net^
@@||news.example^$generichide
##.adsbygoogle
~shop.example##.ad-banner
news.example#@#.ad-banner
"""
EASYPRIVACY = "||metrics.example^\n"


@pytest.fixture
def lists(tmp_path: Path) -> Path:
    d = tmp_path / "lists"
    d.mkdir()
    (d / "easylist.txt").write_text(EASYLIST)
    (d / "easyprivacy.txt").write_text(EASYPRIVACY)
    return d


def no_more_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make parsing the lists fail: what loads from now on came from a compiled copy."""

    def refuse(directory: Path) -> None:
        raise AssertionError(f"parsed {directory} again")

    monkeypatch.setattr(compiled, "load_lists", refuse)


def test_a_compiled_copy_is_the_same_filters(lists: Path) -> None:
    parsed = load_lists(lists)
    of = compiled.digest(compiled.list_files(lists))
    data = json.loads(json.dumps(compiled.to_json(parsed, of)))
    assert compiled.from_json(data, of) == parsed
    assert parsed.blocks("https://doubleclick.net/x")
    assert not parsed.blocks("https://safe.doubleclick.net/")
    # of other lists, or not one at all: refused
    assert compiled.from_json(data, "0" * 64) is None
    assert compiled.from_json({**data, "hosts": 7}, of) is None
    assert compiled.from_json([], of) is None


def test_the_first_agent_compiles_and_keeps_it_the_next_reads_it(
    lists: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    first, source = compiled.load(lists, cache)
    assert source == "compiled" and first == load_lists(lists)
    assert len(list(cache.glob("adblock-*.json"))) == 1
    assert not list(cache.glob(".adblock-*"))  # no temporary file left behind
    no_more_parsing(monkeypatch)
    again, source = compiled.load(lists, cache)
    assert (again, source) == (first, "cache")


def test_the_images_copy_comes_first(
    lists: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert compiled.main([str(lists)]) == 0  # the browser image's build step
    assert (lists / compiled.IMAGE_FILE).is_file()
    no_more_parsing(monkeypatch)
    found, source = compiled.load(lists, tmp_path / "cache")
    assert source == "image" and found.blocks("https://metrics.example/p")
    assert not (tmp_path / "cache").exists()  # nothing to keep


def test_new_lists_or_a_broken_copy_are_compiled_again(lists: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    compiled.load(lists, cache)
    # a new version of the lists: the kept copy is of the old ones
    (lists / "easyprivacy.txt").write_text(EASYPRIVACY + "||pixel.example^\n")
    newer, source = compiled.load(lists, cache)
    assert source == "compiled" and newer.blocks("https://pixel.example/")
    # a copy cut short (a disk that filled up), or not JSON: compiled again, no error
    for kept in cache.glob("adblock-*.json"):
        kept.write_text(kept.read_text()[:100])
    assert compiled.load(lists, cache)[1] == "compiled"
    (lists / compiled.IMAGE_FILE).write_text("not json")
    assert compiled.load(lists, cache)[1] == "cache"


def test_a_cache_that_cannot_be_written_costs_only_the_parse(lists: Path, tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("a file where the cache directory should be")
    found, source = compiled.load(lists, blocked / "cache")
    assert source == "compiled" and found == load_lists(lists)
    assert compiled.load(lists, "")[1] == "compiled"  # "": kept nowhere


def test_no_lists_is_still_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        compiled.load(tmp_path / "none", tmp_path / "cache")
    assert compiled.main([str(tmp_path / "none")]) == 1
