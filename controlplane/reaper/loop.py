"""Embedded mode's scheduler: the reaper sweep as an asyncio task in the API process."""

from __future__ import annotations

import asyncio
import logging

from controlplane.context import AppContext
from controlplane.reaper.sweep import sweep

log = logging.getLogger(__name__)


async def run_forever(ctx: AppContext) -> None:
    interval = ctx.settings.REAPER_INTERVAL_SECONDS
    while True:
        try:
            await sweep(ctx=ctx)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("reaper sweep failed")
        await asyncio.sleep(interval)
