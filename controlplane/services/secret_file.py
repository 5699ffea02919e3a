"""Secrets nobody configured: generated once and kept in DATA_DIR, so a restart keeps sessions.

Without this the signing key would be the published default and anyone could forge an access
token. Several processes of one deployment on one host (uvicorn workers, `watchparty worker`)
share the file: it is created atomically (written aside, then hard-linked into place, which
fails if another process won), and every process reads the one that won.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
from pathlib import Path

from controlplane.settings import SECRET_NAMES, Settings

log = logging.getLogger(__name__)

SECRETS_FILE = "secrets.json"


def _generate(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    aside = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump({name: secrets.token_hex(32) for name in SECRET_NAMES}, f)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(aside, path)
        except FileExistsError:
            pass  # another process of this deployment generated them first: theirs count
    finally:
        aside.unlink(missing_ok=True)


def _read(path: Path) -> dict[str, str]:
    data = json.loads(path.read_text())
    stored = {k: str(v) for k, v in data.items() if isinstance(v, str) and len(v) >= 32}
    if "PROFILE_SECRET_KEY" not in stored and "SECRET_KEY" in stored:
        # A file written before profiles existed: every process derives the same key from it
        # (rewriting the file would race the other processes reading it).
        mac = hmac.new(stored["SECRET_KEY"].encode(), b"PROFILE_SECRET_KEY", hashlib.sha256)
        stored["PROFILE_SECRET_KEY"] = mac.hexdigest()
    return stored


def with_secrets(settings: Settings) -> Settings:
    """`settings` with every unset secret taken from DATA_DIR (generated on first start); logs
    where each secret came from. Production keeps its refusal of unset secrets (replicas on other
    hosts would each generate their own), so nothing is generated there."""
    unset = settings.unset_secrets()
    sources = {name: "environment" for name in SECRET_NAMES if name not in unset}
    if unset and settings.ENVIRONMENT != "production":
        path = (settings.DATA_DIR / SECRETS_FILE).resolve()
        verb = "kept in"
        if not path.exists():
            _generate(path)
            verb = "generated into"
        stored = _read(path)
        update = {name: stored[name] for name in unset if name in stored}
        sources.update(dict.fromkeys(update, f"{verb} {path}"))
        settings = settings.model_copy(update=update)
    for name in unset:
        sources.setdefault(name, "unset (the published default)")
    log.info("secrets", extra={f"{k.lower()}_source": v for k, v in sources.items()})
    return settings
