"""Background work that shutdown cancels before it ever ran is closed, not left for the
garbage collector to warn about ("coroutine … was never awaited")."""

from app.core.background import BackgroundLoops


async def test_a_job_cancelled_before_it_started_is_closed_unrun():
    ran = []

    async def work() -> None:
        ran.append(True)

    loops = BackgroundLoops()
    never_started = work()
    loops.spawn("never started", never_started)
    await loops.stop(timeout_seconds=1)

    assert ran == []
    assert never_started.cr_frame is None  # closed: nothing left to warn about
