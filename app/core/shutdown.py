"""Graceful shutdown behind a load balancer (SPEC §3 "Shutdown").

On SIGTERM a replica first *drains*: for SHUTDOWN_DRAIN_SECONDS `/health/ready` answers 503,
so that the load balancer takes it out of rotation, while every other request is served as
usual (with `Connection: close`, so that keep-alive clients reconnect elsewhere). Only then
does the server's own SIGTERM handling begin: uvicorn stops accepting, finishes the requests in
flight, and runs the lifespan's shutdown, where the background work hands its leases back.

The drain defers the signal rather than replacing the server: the handler the server installed
(uvicorn's, whether started by `events-face serve` or by plain `uvicorn app.main:app`) is put
back and the signal raised again once the drain is over. No server internals are touched.
"""

import asyncio
import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger(__name__)

CLOSE_CONNECTION = (b"connection", b"close")


class Drain:
    """Whether this process has been asked to stop and is draining."""

    __slots__ = ("started",)

    def __init__(self) -> None:
        self.started = False


@contextmanager
def draining_on_sigterm(drain: Drain, seconds: float) -> Iterator[None]:
    """While the block runs, SIGTERM starts the drain and hands the signal on to the previous
    handler `seconds` later; a second SIGTERM hands it on at once. SIGINT (Ctrl+C) is left
    alone. Does nothing when `seconds` is 0 or outside the main thread (where signals cannot
    be handled)."""
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return
    loop = asyncio.get_running_loop()
    previous = signal.getsignal(signal.SIGTERM)
    hand_over_timer: asyncio.TimerHandle | None = None
    handed_over = False

    def restore_previous() -> None:
        nonlocal handed_over
        handed_over = True
        loop.remove_signal_handler(signal.SIGTERM)
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)

    def hand_over() -> None:
        logger.info("drained: the server stops accepting and finishes the requests in flight")
        restore_previous()
        signal.raise_signal(signal.SIGTERM)

    def on_sigterm() -> None:
        nonlocal hand_over_timer
        if hand_over_timer is not None:
            hand_over_timer.cancel()
            hand_over()
            return
        drain.started = True
        logger.info("SIGTERM: draining for %ss (readiness answers 503)", seconds)
        hand_over_timer = loop.call_later(seconds, hand_over)

    loop.add_signal_handler(signal.SIGTERM, on_sigterm)
    try:
        yield
    finally:
        if hand_over_timer is not None:
            hand_over_timer.cancel()
        if not handed_over:
            restore_previous()


class CloseConnectionsWhileDraining:
    """Adds `Connection: close` to every response once the drain has started, so that a
    client or proxy holding a keep-alive connection to this replica opens its next one to
    another replica before this one stops listening."""

    def __init__(self, app: ASGIApp, drain: Drain) -> None:
        self.app = app
        self.drain = drain

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.drain.started:
            await self.app(scope, receive, send)
            return

        async def send_closing(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), CLOSE_CONNECTION]
            await send(message)

        await self.app(scope, receive, send_closing)
