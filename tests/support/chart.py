"""The Helm chart rendered by Helm's own engine (helm-python-sdk, no helm binary, no cluster),
and its README values table built from the `## @param` lines of values.yaml."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from tests.support.docker_image import REPO

CHART = REPO / "charts" / "watchparty"
CI_VALUES = sorted((CHART / "ci").glob("*.yaml"))
TABLE_START = "<!-- values-table:start -->"
TABLE_END = "<!-- values-table:end -->"


def load_values(path: Path) -> dict[str, Any]:
    return dict(yaml.safe_load(path.read_text()) or {})


def render(values: dict[str, Any], *, namespace: str = "watchparty") -> list[dict[str, Any]]:
    """Every object the chart renders for `values` (NOTES.txt excluded)."""
    import helm_python as helm

    chart = helm.Chart.load(CHART)
    rendered = chart.render(values, name="wp", namespace=namespace, is_install=True)
    objects = []
    for path, text in rendered.items():
        if path.endswith("NOTES.txt"):
            continue
        objects += [doc for doc in yaml.safe_load_all(text) if doc]
    return objects


def params() -> list[tuple[str, str]]:
    """(key, description) of every `## @param` line, in file order."""
    found = re.findall(r"^## @param (\S+) (.+)$", (CHART / "values.yaml").read_text(), re.M)
    return [(key, text.strip()) for key, text in found]


def leaf_keys(values: dict[str, Any], prefix: str = "") -> list[str]:
    """Keys whose values are not further documented maps (what a @param must cover)."""
    keys = []
    for key, value in values.items():
        path = f"{prefix}{key}"
        documented = {k for k, _ in params()}
        if isinstance(value, dict) and value and path not in documented:
            keys += leaf_keys(value, f"{path}.")
        else:
            keys.append(path)
    return keys


def default_of(values: dict[str, Any], key: str) -> Any:
    node: Any = values
    for part in key.split("."):
        node = node[part]
    return node


def values_table() -> str:
    defaults = load_values(CHART / "values.yaml")
    rows = ["| key | default | meaning |", "|---|---|---|"]
    for key, text in params():
        default = json.dumps(default_of(defaults, key), separators=(", ", ": "))
        rows.append(f"| `{key}` | `{default}` | {text} |")
    return "\n".join([TABLE_START, *rows, TABLE_END])


def write_readme_table() -> None:
    """Replace the table between the markers in the chart README with the generated one."""
    readme = CHART / "README.md"
    text = readme.read_text()
    start, end = text.index(TABLE_START), text.index(TABLE_END) + len(TABLE_END)
    readme.write_text(text[:start] + values_table() + text[end:])


if __name__ == "__main__":  # `python -m tests.support.chart`: regenerate the README table
    write_readme_table()
