"""Fixtures for the browser image tests: build the image once, run hardened containers, clean up.

The image fixtures live in tests/support/docker_image.py (shared with tests/runtime).
Containers started through `run_container` are removed after each test; when the test failed
their logs and health-check history are printed first.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from docker.errors import NotFound

from tests.support.docker_image import (
    BUILD_SCRIPT,
    IMAGE,
    REPO,
    Container,
    DockerClient,
    RunContainer,
    browser_image,
    docker_client,
    dump_container,
    exec_ok,
    failed,
    pytest_runtest_makereport,
    wait_health,
)

__all__ = [
    "BUILD_SCRIPT",
    "HARDENED",
    "IMAGE",
    "REPO",
    "RunContainer",
    "browser_image",
    "docker_client",
    "exec_ok",
    "pytest_runtest_makereport",
    "wait_health",
]

# The hardening the runtimes apply (docs/deployment.md, "What a room container is"), as docker
# SDK keyword arguments:
# --read-only --tmpfs /tmp --shm-size=1g --cap-drop ALL --security-opt no-new-privileges
# --pids-limit 512 --memory 2g
HARDENED: dict[str, Any] = {
    "read_only": True,
    "tmpfs": {"/tmp": ""},
    "shm_size": "1g",
    "cap_drop": ["ALL"],
    "security_opt": ["no-new-privileges"],
    "pids_limit": 512,
    "mem_limit": "2g",
}


@pytest.fixture
def run_container(
    docker_client: DockerClient, browser_image: str, request: pytest.FixtureRequest
) -> Iterator[RunContainer]:
    """Starts detached containers from the image (hardened unless hardened=False)."""
    started: list[Container] = []

    def run(*command: str, hardened: bool = True, **kwargs: Any) -> Container:
        options: dict[str, Any] = dict(HARDENED) if hardened else {}
        options.update(kwargs)
        options.setdefault("labels", {})["org.watchparty.test"] = request.node.nodeid[:200]
        container = docker_client.containers.run(
            browser_image, list(command) or None, detach=True, **options
        )
        started.append(container)
        return container

    yield run

    test_failed = failed(request)
    for container in started:
        if test_failed:
            print(dump_container(container))
        try:
            container.remove(force=True)
        except NotFound:
            pass
