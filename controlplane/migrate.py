"""Schema upgrades: the one entry point for migrations (CLI, tests, compose, Helm job)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from controlplane.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def alembic_config(url: str) -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.attributes["url"] = url
    return cfg


def upgrade_head(settings: Settings) -> None:
    if settings.is_sqlite:
        settings.DATA_DIR.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(settings.database_url), "head")
