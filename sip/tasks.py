"""Work in the background that ends together: `TaskSet` for the tasks the user agent, the transaction layer
and the drivers spawn; `Background` adds the timers of a driver of sans-IO machines (`sip.driver.Driver`,
`sip.invite_agent.InviteAgent`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine

import structlog

from sip.actions import Timer

log = structlog.get_logger(__name__)


class TaskSet:
    """Tasks spawned to run on their own; a task that fails is logged as `failure_event` (when given)."""

    def __init__(self, *, failure_event: str | None = None) -> None:
        self.failure_event = failure_event
        self._tasks: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, coroutine: Coroutine[object, object, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    async def idle(self, timeout: float = 10.0) -> None:
        """Wait until no task is left (tests)."""
        async with asyncio.timeout(timeout):
            while self._tasks:
                await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def cancel(self) -> None:
        """Cancel every task and wait for them to end."""
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if self.failure_event is not None and not task.cancelled() and task.exception() is not None:
            log.error(self.failure_event, error=repr(task.exception()))


class Background(TaskSet):
    """Tasks, and timers on the event loop, for a driver of sans-IO machines: a timer that fires goes to
    `on_timer`; `close` ends them all."""

    def __init__(self, on_timer: Callable[[Timer], None], *, failure_event: str) -> None:
        super().__init__(failure_event=failure_event)
        self.on_timer = on_timer
        self.timers: dict[Timer, asyncio.TimerHandle] = {}

    def start_timer(self, timer: Timer, delay: float) -> None:
        """Arm `timer` (again: the handle it had is cancelled)."""
        self.cancel_timer(timer)
        self.timers[timer] = asyncio.get_running_loop().call_later(delay, self._fire, timer)

    def cancel_timer(self, timer: Timer) -> None:
        handle = self.timers.pop(timer, None)
        if handle is not None:
            handle.cancel()

    async def close(self) -> None:
        for handle in self.timers.values():
            handle.cancel()
        self.timers.clear()
        await self.cancel()

    def _fire(self, timer: Timer) -> None:
        self.timers.pop(timer, None)
        self.on_timer(timer)
