"""Runtime tests: the browser-image fixtures (tests/support/docker_image.py) and the report hook
that lets fixtures dump container logs when their test failed."""

from __future__ import annotations

from tests.support.docker_image import browser_image, docker_client, pytest_runtest_makereport

__all__ = ["browser_image", "docker_client", "pytest_runtest_makereport"]
