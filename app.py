"""autoviz's server: ``streamlit run app.py`` serves the page (page.py) and, before it
answers its first request, warms what a first visitor would otherwise wait for: the
worker processes' warm parent (torch imported once), the page's own imports, and the
landing program's study and layout (see :func:`ui.warm.warm_up`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import streamlit as st

WARM_UP_SECONDS = 60


@asynccontextmanager
async def _warm(_app: st.App) -> AsyncIterator[None]:
    from ui.warm import warm_up

    try:  # a warm-up that hangs must not keep the server from starting
        await asyncio.wait_for(asyncio.to_thread(warm_up), WARM_UP_SECONDS)
    except TimeoutError:
        logging.getLogger(__name__).warning("warming up took over %s s; serving anyway",
                                            WARM_UP_SECONDS)
    yield


app = st.App("page.py", lifespan=_warm)
