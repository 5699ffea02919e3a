"""The browser image in a real Docker engine, for every test folder that needs it.

`browser_image` builds (or confirms) the image once per session with `browser-image/build.sh`
(a no-op when it is current); set WP_BROWSER_IMAGE to test another tag. `dump_container`
prints a container's state, health history and log tail; `http_probe` makes HTTP requests from
inside a container; `failed(request)` tells a fixture whether its test failed (needs
`pytest_runtest_makereport`, re-exported by the conftests).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

docker = pytest.importorskip("docker")
from docker import DockerClient  # noqa: E402
from docker.errors import DockerException  # noqa: E402
from docker.models.containers import Container  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO / "browser-image" / "build.sh"
IMAGE = os.environ.get("WP_BROWSER_IMAGE", "watchparty/browser:dev")

# What the `run_container` fixture (tests/image/conftest.py) hands a test: start a container.
RunContainer = Callable[..., Container]


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def docker_client() -> Iterator[DockerClient]:
    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except DockerException as exc:
        # build.sh starts dockerd when it can; try once more after it ran.
        subprocess.run(["bash", str(BUILD_SCRIPT)], check=False, timeout=3600)
        try:
            client = docker.from_env(timeout=120)
            client.ping()
        except DockerException:
            pytest.skip(f"no Docker engine: {exc}")
    yield client
    client.close()


@pytest.fixture(scope="session")
def browser_image(docker_client: DockerClient) -> str:
    """Builds (or confirms) the image with the project's build script; returns its tag."""
    started = time.monotonic()
    proc = subprocess.run(
        ["bash", str(BUILD_SCRIPT)],
        env={**os.environ, "WP_BROWSER_IMAGE": IMAGE},
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    if proc.returncode != 0:
        pytest.fail(
            f"build.sh failed ({proc.returncode}) after {time.monotonic() - started:.0f}s\n"
            f"--- stdout (tail)\n{proc.stdout[-6000:]}\n--- stderr (tail)\n{proc.stderr[-6000:]}"
        )
    docker_client.images.get(IMAGE)
    return IMAGE


def failed(request: pytest.FixtureRequest) -> bool:
    """Whether the requesting test failed in setup or call (for dumping logs in teardown)."""
    return any(
        getattr(getattr(request.node, f"rep_{when}", None), "failed", False)
        for when in ("setup", "call")
    )


def dump_container(container: Container) -> str:
    try:
        container.reload()
        state = container.attrs.get("State", {})
        health = state.get("Health") or {}
        lines = [
            f"=== container {container.name} ({container.short_id}) status={container.status} "
            f"exit={state.get('ExitCode')} oom={state.get('OOMKilled')}",
            f"--- health: {health.get('Status')}",
        ]
        for entry in (health.get("Log") or [])[-5:]:
            lines.append(f"  [{entry.get('ExitCode')}] {entry.get('Output', '').strip()}")
        logs = container.logs(stdout=True, stderr=True, tail=300).decode(errors="replace")
        lines.append("--- logs (tail 300)")
        lines.append(logs)
        return "\n".join(lines)
    except DockerException as exc:
        return f"=== container {container.name}: cannot dump ({exc})"


def wait_health(container: Container, timeout: float = 120.0) -> str:
    """Waits until Docker reports healthy (returns it) or the container stops/turns unhealthy."""
    deadline = time.monotonic() + timeout
    status = "starting"
    while time.monotonic() < deadline:
        container.reload()
        if container.status in {"exited", "dead"}:
            return f"exited({container.attrs['State'].get('ExitCode')})"
        status = (container.attrs["State"].get("Health") or {}).get("Status", "none")
        if status in {"healthy", "unhealthy"}:
            return str(status)
        time.sleep(1)
    return status


# HTTP requests from inside a room: the status, or why no answer came (EHOSTUNREACH: our rules).
HTTP_PROBE = r"""
import errno, json, sys, urllib.error, urllib.request
out = {}
for url in sys.argv[1:]:
    post = url.endswith("/login")
    req = urllib.request.Request(url, data=b"{}" if post else None)  # data: a POST
    try:
        with urllib.request.urlopen(req, timeout=6) as r:
            out[url] = r.status
    except urllib.error.HTTPError as e:
        out[url] = e.code
    except urllib.error.URLError as e:
        out[url] = errno.errorcode.get(getattr(e.reason, "errno", None), str(e.reason))
    except TimeoutError:
        out[url] = "timeout"
print(json.dumps(out))
"""


def http_probe(container: Container, *urls: str) -> dict[str, int | str]:
    """From inside the container, each URL's HTTP status (POST for `/login`), or the errno name
    of why none came (EHOSTUNREACH: a firewall's `icmp-admin-prohibited`)."""
    output = exec_ok(container, "python3", "-c", HTTP_PROBE, *urls)
    return dict(json.loads(output.strip().splitlines()[-1]))


def exec_ok(container: Container, *cmd: str, **kwargs: Any) -> str:
    """Runs a command in the container; fails the test with its output unless it exits 0."""
    result = container.exec_run(list(cmd), demux=False, **kwargs)
    output = (result.output or b"").decode(errors="replace")
    assert result.exit_code == 0, f"{cmd!r} exited {result.exit_code}:\n{output}"
    return output
