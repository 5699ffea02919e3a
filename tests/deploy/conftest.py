"""Deployment tests: the control-plane image, the Compose stack, coturn's policy, the Helm chart.
Image fixtures come from tests/support/docker_image.py and tests/support/deploy.py."""

from __future__ import annotations

import pytest

from tests.support.deploy import build_controlplane_image, build_standins
from tests.support.docker_image import (
    DockerClient,
    browser_image,
    docker_client,
    pytest_runtest_makereport,
)

__all__ = ["browser_image", "docker_client", "pytest_runtest_makereport"]


@pytest.fixture(scope="session")
def controlplane_image(docker_client: DockerClient) -> str:
    return build_controlplane_image(docker_client)


@pytest.fixture(scope="session")
def standin_images(docker_client: DockerClient, controlplane_image: str) -> None:
    build_standins(docker_client)
