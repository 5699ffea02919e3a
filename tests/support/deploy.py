"""Images and stacks for the deployment tests (tests/deploy): the control-plane image built by its
own script, the test-only stand-ins for the official postgres/redis/coturn images, and a Compose
stack under a project name of its own that is always brought down."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.docker_image import REPO, DockerClient

CONTROLPLANE_BUILD = REPO / "controlplane-image" / "build.sh"
# A tag of its own, so these tests never replace an image another run (or the admin) uses.
CONTROLPLANE_IMAGE = os.environ.get("WP_TEST_CONTROLPLANE_IMAGE", "wp-test/controlplane:deploy")
STANDINS = REPO / "tests" / "deploy" / "standins"
STANDIN_OVERRIDE = REPO / "tests" / "deploy" / "compose.standins.yml"
# Tags the override file names, built from Dockerfile.<name> in STANDINS.
STANDIN_TAGS = {
    "postgres": "wp-test-standin/postgres:15",
    "redis": "wp-test-standin/redis:7",
    "coturn": "wp-test-standin/coturn:4.6",
}


def run_script(script: Path, env: dict[str, str], *, timeout: float = 3600) -> None:
    started = time.monotonic()
    proc = subprocess.run(
        ["bash", str(script)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        pytest.fail(
            f"{script.name} failed ({proc.returncode}) after {time.monotonic() - started:.0f}s\n"
            f"--- stdout (tail)\n{proc.stdout[-6000:]}\n--- stderr (tail)\n{proc.stderr[-6000:]}"
        )


def build_controlplane_image(docker_client: DockerClient) -> str:
    run_script(CONTROLPLANE_BUILD, {"WP_CONTROLPLANE_IMAGE": CONTROLPLANE_IMAGE})
    docker_client.images.get(CONTROLPLANE_IMAGE)
    return CONTROLPLANE_IMAGE


def build_standins(docker_client: DockerClient) -> None:
    """Debian-package stand-ins on the debootstrap base (the control-plane build made it)."""
    env = {**os.environ, "DOCKER_BUILDKIT": "0"}
    for name, tag in STANDIN_TAGS.items():
        subprocess.run(
            ["docker", "build", "-q", "-f", str(STANDINS / f"Dockerfile.{name}"), "-t", tag, "."],
            cwd=STANDINS,
            env=env,
            check=True,
            capture_output=True,
            timeout=1800,
        )
        docker_client.images.get(tag)


class Compose:
    """`docker-compose` (Debian's v1, which CI installs) on docker-compose.yml + the override."""

    def __init__(self, project: str, env_file: Path) -> None:
        self.project = project
        self.env_file = env_file

    def argv(self, *args: str) -> list[str]:
        return [
            "docker-compose",
            "--project-name",
            self.project,
            "--project-directory",
            str(REPO),
            "--env-file",
            str(self.env_file),
            "-f",
            str(REPO / "docker-compose.yml"),
            "-f",
            str(STANDIN_OVERRIDE),
            *args,
        ]

    def run(self, *args: str, timeout: float = 600, check: bool = True) -> str:
        proc = subprocess.run(
            self.argv(*args), capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"docker-compose {' '.join(args)} failed ({proc.returncode}):\n"
                f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
            )
        return proc.stdout + proc.stderr


def write_env(path: Path, values: dict[str, str]) -> Path:
    path.write_text("".join(f"{key}={value}\n" for key, value in values.items()))
    return path


@contextmanager
def compose_stack(project: str, env_file: Path) -> Iterator[Compose]:
    """`up -d`, then always `down -v` (printing every service's log tail first when the body
    raised)."""
    stack = Compose(project, env_file)
    stack.run("down", "-v", "--remove-orphans", check=False)  # an aborted run's leftovers
    try:
        stack.run("up", "-d", timeout=900)
        yield stack
    except BaseException:
        print(stack.run("ps", check=False))
        print(stack.run("logs", "--no-color", "--tail", "80", check=False)[-20000:])
        raise
    finally:
        stack.run("down", "-v", "--remove-orphans", check=False, timeout=300)
