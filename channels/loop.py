"""A background thread that keeps pushing due deliveries.

The action server starts one :class:`DispatchLoop` around its :class:`Dispatcher`; every
``interval`` seconds it calls ``deliver_once(time.time())``, so a message reaches an open
page within a fraction of a second and a failed push is retried when its backoff ends.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

from matchmaker.delivery import DispatchReport

logger = logging.getLogger(__name__)


class Dispatches(Protocol):
    """What the loop drives (``matchmaker.delivery.Dispatcher``)."""

    def deliver_once(self, now: float) -> DispatchReport:
        """Push every due row once."""
        ...


class DispatchLoop:
    """Calls ``dispatcher.deliver_once`` every ``interval`` seconds on a daemon thread until stopped."""

    def __init__(self, dispatcher: Dispatches, interval: float = 0.2,
                 clock: Callable[[], float] = time.time, name: str = "dispatch-loop") -> None:
        """Prepare the loop; nothing runs until :meth:`start`.

        Raises:
            ValueError: when ``interval`` is not positive.
        """
        if interval <= 0:
            raise ValueError(f"interval must be positive, got {interval}")
        self._dispatcher = dispatcher
        self._interval = interval
        self._clock = clock
        self._name = name
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.passes = 0

    @property
    def running(self) -> bool:
        """Whether the thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the thread (once; starting a running loop does nothing)."""
        if self.running:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the thread to end after its current pass and wait up to ``timeout`` seconds for it."""
        self._stopping.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                logger.warning("%s did not stop within %.1f s", self._name, timeout)

    def __enter__(self) -> DispatchLoop:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def run_once(self) -> DispatchReport | None:
        """One pass; an exception is logged (with its traceback) and the pass returns ``None``."""
        try:
            report = self._dispatcher.deliver_once(self._clock())
        except Exception:
            logger.exception("dispatch pass failed; trying again in %.2f s", self._interval)
            return None
        finally:
            self.passes += 1
        if report.delivered or report.retried or report.failed:
            logger.debug("dispatch pass: %s", report)
        return report

    def _run(self) -> None:
        while not self._stopping.is_set():
            self.run_once()
            self._stopping.wait(self._interval)
