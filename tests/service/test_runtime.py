"""Runtime.run: a request's blocking steps share exactly ``request_threads`` worker threads per event loop."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import anyio
import pytest

from strongroom.config import Settings
from strongroom.service.runtime import Runtime


def peak_concurrency(request_threads: int, calls: int) -> tuple[int, int]:
    """Start ``calls`` blocking steps at once; return (the most that ran at the same time, distinct threads used)."""
    rt = SimpleNamespace(settings=Settings(request_threads=request_threads))
    lock = threading.Lock()
    running = 0
    peak = 0
    threads: set[int] = set()
    # every step waits until request_threads steps are inside at once (or a timeout): a limit that let more in
    # would show as a higher peak, one that let fewer in would time out the barrier
    barrier = threading.Barrier(request_threads, timeout=10)

    def step() -> None:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
            threads.add(threading.get_ident())
        try:
            barrier.wait()
        finally:
            with lock:
                running -= 1

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            for _ in range(calls):
                tg.start_soon(Runtime.run, rt, step)

    anyio.run(main)
    return peak, len(threads)


@pytest.mark.parametrize("request_threads", [1, 2, 32])
def test_run_holds_exactly_request_threads_steps_at_once(request_threads: int) -> None:
    peak, threads = peak_concurrency(request_threads, calls=request_threads * 3)
    assert peak == request_threads
    assert threads >= request_threads  # anyio may start a fresh worker before an idle one is back
