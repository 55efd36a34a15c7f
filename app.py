"""autoviz's server: ``streamlit run app.py`` serves the page (page.py) and, before it
answers its first request, warms what a first visitor would otherwise wait for: the
worker processes' warm parent (torch imported once), the page's own imports, and the
landing program's study and layout (see :func:`ui.warm.warm_up`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import streamlit as st


@asynccontextmanager
async def _warm(_app: st.App) -> AsyncIterator[None]:
    from ui.warm import warm_up

    await asyncio.to_thread(warm_up)
    yield


app = st.App("page.py", lifespan=_warm)
