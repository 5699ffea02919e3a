"""Embedded mode's scheduler: the reaper sweep as an asyncio task in the API process."""

from __future__ import annotations

import asyncio
import logging

from controlplane.context import AppContext
from controlplane.reaper.policy import OutageClock
from controlplane.reaper.sweep import sweep

log = logging.getLogger(__name__)


async def run_forever(ctx: AppContext) -> None:
    interval = ctx.settings.REAPER_INTERVAL_SECONDS
    outages = OutageClock()  # this process's memory of its dependencies' outages
    while True:
        try:
            await sweep(ctx=ctx, outages=outages)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("reaper sweep failed")
        await asyncio.sleep(interval)
