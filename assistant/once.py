"""``once``: a value loaded on first use, by one thread, however many ask for it together.

``functools.cache`` lets concurrent first callers each compute the value (it does not lock), which
for the compliance rules means 0.45 s of CPU per caller under the interpreter lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import wraps
from typing import Generic, TypeVar

T = TypeVar("T")


class _Once(Generic[T]):
    def __init__(self, load: Callable[[], T]) -> None:
        self._load = load
        self._lock = threading.Lock()
        self._value: tuple[T] | None = None  # a tuple, so that None can be a loaded value

    def __call__(self) -> T:
        if self._value is None:
            with self._lock:
                if self._value is None:
                    self._value = (self._load(),)
        return self._value[0]


def once(load: Callable[[], T]) -> Callable[[], T]:
    """Decorate a function without arguments whose result is loaded once per process."""
    return wraps(load)(_Once(load))
