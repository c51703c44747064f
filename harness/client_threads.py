"""Client threads that run until their `with` block ends (pollers, writers)."""

from __future__ import annotations

import threading
from typing import Self


class ClientThreads:
    """`threads` daemon threads each running `loop(number)` while the block lasts.

    Subclasses implement `loop`, working until `stopped()`; leaving the block
    sets the stop flag and waits up to `join_seconds` for each thread.
    """

    def __init__(self, threads: int, join_seconds: float) -> None:
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._join_seconds = join_seconds
        self._threads = [
            threading.Thread(target=self.loop, args=(n,), daemon=True) for n in range(threads)
        ]

    def loop(self, number: int) -> None:
        raise NotImplementedError

    def stopped(self) -> bool:
        return self._stop.is_set()

    def __enter__(self) -> Self:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(self._join_seconds)
