"""Issue 11 #6: without SMTP, a reset link reaches the log in development only."""

from __future__ import annotations

import logging

import pytest

from controlplane.services.mail import send_email
from controlplane.settings import Settings

LINK = "https://party.example/reset-password?token=SECRET-TOKEN"


@pytest.mark.parametrize(("environment", "logged"), [("development", True), ("test", False)])
def test_reset_links_are_logged_only_in_development(environment, logged, caplog):
    caplog.set_level(logging.WARNING, logger="controlplane.services.mail")
    settings = Settings(_env_file=None, ENVIRONMENT=environment)  # type: ignore[call-arg]
    send_email(settings=settings, to="a@example.com", subject="Reset", body=f"open {LINK}")
    (record,) = caplog.records
    assert (LINK in str(record.__dict__)) is logged
    assert record.__dict__["to"] == "a@example.com"


def test_production_without_smtp_is_refused_with_the_reason():
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        ENVIRONMENT="production",
        SECRET_KEY="s" * 40,
        AGENT_SECRET_KEY="a" * 40,
        PROFILE_SECRET_KEY="p" * 40,
        ROOM_RUNTIME="docker",
    )
    assert any("SMTP_HOST is unset" in r for r in settings.insecure_reasons())
    assert settings.model_copy(update={"SMTP_HOST": "mail"}).insecure_reasons() == []
