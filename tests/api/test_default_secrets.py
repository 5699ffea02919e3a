"""Issue 11 #1: with no secret configured, nobody can sign tokens with the published default."""

from __future__ import annotations

import json
import logging
import stat
import time

import jwt

from controlplane.auth.access_tokens import AUDIENCE as JWT_AUDIENCE
from controlplane.services.secret_file import SECRETS_FILE, with_secrets
from controlplane.settings import DEFAULT_SECRET, Settings
from tests.support.apps import client_for
from tests.support.backends import migrate
from tests.support.cli import cli
from tests.support.users import signed_in


def _unconfigured(data_dir) -> Settings:
    """Settings as a fresh checkout has them: no secret set anywhere."""
    return Settings(_env_file=None, DATA_DIR=data_dir, ROOM_RUNTIME="none")  # type: ignore[call-arg]


def _forged(user_id: str) -> str:
    claims = {"sub": user_id, "aud": JWT_AUDIENCE, "exp": int(time.time()) + 600}
    return jwt.encode(claims, DEFAULT_SECRET, algorithm="HS256")


async def test_a_token_signed_with_the_default_secret_is_refused(tmp_path):
    settings = _unconfigured(tmp_path / "data")
    await migrate(settings)
    async with client_for(settings) as client:
        host = await signed_in(client)
        assert (await client.get("/api/users/me", headers=host.headers)).status_code == 200
        forged = {"Authorization": f"Bearer {_forged(host.id)}"}
        assert (await client.get("/api/users/me", headers=forged)).status_code == 401
    # a restart keeps the generated secret: the session still works
    async with client_for(settings) as client:
        assert (await client.get("/api/users/me", headers=host.headers)).status_code == 200


def test_generated_secrets_are_private_kept_and_sourced_in_the_log(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="controlplane.services.secret_file")
    first = with_secrets(_unconfigured(tmp_path))
    path = tmp_path / SECRETS_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first.SECRET_KEY) >= 32 and first.SECRET_KEY != first.AGENT_SECRET_KEY
    again = with_secrets(_unconfigured(tmp_path))
    assert (again.SECRET_KEY, again.AGENT_SECRET_KEY) == (first.SECRET_KEY, first.AGENT_SECRET_KEY)
    # The browser profiles' key is generated and kept with them, distinct from both.
    assert len(first.PROFILE_SECRET_KEY) >= 32
    assert again.PROFILE_SECRET_KEY == first.PROFILE_SECRET_KEY
    assert first.PROFILE_SECRET_KEY not in (first.SECRET_KEY, first.AGENT_SECRET_KEY)
    mixed = with_secrets(
        Settings(_env_file=None, DATA_DIR=tmp_path, SECRET_KEY="e" * 40)  # type: ignore[call-arg]
    )
    assert mixed.SECRET_KEY == "e" * 40 and mixed.AGENT_SECRET_KEY == first.AGENT_SECRET_KEY
    sources = [r.__dict__ for r in caplog.records if r.getMessage() == "secrets"]
    assert "generated into" in sources[0]["secret_key_source"]
    assert "kept in" in sources[1]["secret_key_source"]
    assert sources[2]["secret_key_source"] == "environment"
    assert "e" * 40 not in caplog.text and first.SECRET_KEY not in caplog.text


def test_serve_refuses_a_public_address_with_a_default_secret(tmp_path):
    done = cli(
        "serve",
        "--no-migrate",
        "--host",
        "0.0.0.0",
        "--port",
        "1",
        env={"DATA_DIR": str(tmp_path), "SECRET_KEY": DEFAULT_SECRET},
    )
    assert done.returncode != 0
    assert "SECRET_KEY is a published default" in done.stderr


def test_a_secrets_file_from_before_profiles_gives_a_profile_key_derived_from_it(tmp_path):
    """`secrets.json` written before PROFILE_SECRET_KEY existed: every process derives the same
    key from its SECRET_KEY instead of rewriting the file (which would race the others)."""
    (tmp_path / SECRETS_FILE).write_text(
        json.dumps({"SECRET_KEY": "k" * 64, "AGENT_SECRET_KEY": "a" * 64})
    )
    one = with_secrets(_unconfigured(tmp_path))
    two = with_secrets(_unconfigured(tmp_path))
    assert one.SECRET_KEY == "k" * 64
    assert len(one.PROFILE_SECRET_KEY) >= 32 and one.PROFILE_SECRET_KEY == two.PROFILE_SECRET_KEY
    assert one.PROFILE_SECRET_KEY not in ("k" * 64, DEFAULT_SECRET)
