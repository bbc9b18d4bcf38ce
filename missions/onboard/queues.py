"""A bounded queue that drops the oldest item when full, and counts what it dropped."""

from __future__ import annotations

import threading
from collections import deque
from typing import Generic, TypeVar

__all__ = ["DropOldestQueue"]

T = TypeVar("T")


class DropOldestQueue(Generic[T]):
    """Thread-safe FIFO of at most ``maxsize`` items; ``put`` never blocks.

    >>> q = DropOldestQueue[int](2)
    >>> for i in range(5):
    ...     q.put(i)
    >>> q.get(timeout=0), q.get(timeout=0), q.dropped
    (3, 4, 3)
    """

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be >= 1, got {maxsize}")
        self._items: deque[T] = deque()
        self.maxsize = maxsize
        self.dropped = 0
        self.put_count = 0
        self._cv = threading.Condition()
        self.closed = False

    def put(self, item: T) -> None:
        """Append ``item``; when full, the oldest item is dropped (and counted)."""
        with self._cv:
            if len(self._items) >= self.maxsize:
                self._items.popleft()
                self.dropped += 1
            self._items.append(item)
            self.put_count += 1
            self._cv.notify()

    def get(self, timeout: float | None = None) -> T | None:
        """The oldest item, waiting up to ``timeout`` s; None on timeout or when closed and empty."""
        with self._cv:
            if not self._items and not self.closed:
                self._cv.wait(timeout)
            return self._items.popleft() if self._items else None

    def close(self) -> None:
        """No more items will come; wake the readers."""
        with self._cv:
            self.closed = True
            self._cv.notify_all()

    def __len__(self) -> int:
        with self._cv:
            return len(self._items)
