"""A value loaded once: concurrent first callers share one load."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from assistant.compliance_rules import default_rules
from assistant.once import once


def test_callers_arriving_together_share_one_load() -> None:
    loads: list[int] = []
    start = threading.Barrier(8)

    @once
    def slow() -> list[int]:
        loads.append(1)
        time.sleep(0.2)  # long enough for every other caller to arrive meanwhile
        return loads

    def call() -> list[int]:
        start.wait()
        return slow()

    with ThreadPoolExecutor(8) as pool:
        values = list(pool.map(lambda _: call(), range(8)))
    assert loads == [1]  # functools.cache would have loaded it up to eight times
    assert all(value is values[0] for value in values)


def test_a_failed_load_is_tried_again_by_the_next_caller() -> None:
    attempts: list[int] = []

    @once
    def flaky() -> int:
        attempts.append(1)
        if len(attempts) == 1:
            raise OSError("the resource was not readable yet")
        return 42

    with pytest.raises(OSError):
        flaky()
    assert flaky() == 42 and flaky() == 42 and len(attempts) == 2


def test_the_shipped_rules_are_one_table_per_process() -> None:
    assert default_rules() is default_rules()
