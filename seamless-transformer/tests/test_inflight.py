"""InFlight: one computation per key; concurrent callers share its result or its error, and an
error named in ``retry_on`` lets a waiting caller compute instead."""

from __future__ import annotations

import threading
import time

from seamless_transformer.inflight import InFlight


class Lacking(Exception):
    """Stands for the jobserver's JobRequestError: that request lacked what the next brings."""


def _concurrently(count: int, call) -> list:
    """Start ``count`` threads running ``call(i)``; return what each returned or raised."""
    outcomes: list = [None] * count

    def one(i: int) -> None:
        try:
            outcomes[i] = call(i)
        except Exception as exc:  # noqa: BLE001 - the outcome under test
            outcomes[i] = exc

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def _release_once_waited_for(inflight: InFlight, key: str, waiters: int, release: threading.Event) -> None:
    """Set ``release`` once ``waiters`` threads wait for the running computation of ``key`` (its
    Future's condition: CPython's ``Future.result`` waits on it), so that none of them can come
    too late and compute by itself, however busy the machine."""

    def watch() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            future = inflight._running.get(key)
            if future is not None and len(future._condition._waiters) >= waiters:
                break
            time.sleep(0.01)
        release.set()

    threading.Thread(target=watch, daemon=True).start()


def test_concurrent_callers_share_one_computation():
    inflight: InFlight[int] = InFlight()
    started, release = threading.Event(), threading.Event()
    calls = []

    def compute() -> int:
        calls.append(1)
        started.set()
        release.wait(30)
        return 42

    def call(i: int) -> int:
        if i:
            started.wait(30)  # the first one is computing
        return inflight.run("key", compute)

    _release_once_waited_for(inflight, "key", 3, release)
    assert _concurrently(4, call) == [42] * 4
    assert len(calls) == 1
    assert inflight.run("key", lambda: 7) == 7, "a finished computation is not kept"


def test_an_error_is_every_waiting_callers_error():
    inflight: InFlight[int] = InFlight()
    started, release = threading.Event(), threading.Event()

    def compute() -> int:
        started.set()
        release.wait(30)
        raise ValueError("the function failed")

    def call(i: int) -> int:
        if i:
            started.wait(30)
        return inflight.run("key", compute)

    _release_once_waited_for(inflight, "key", 2, release)
    outcomes = _concurrently(3, call)
    assert all(isinstance(o, ValueError) for o in outcomes), outcomes


def test_an_error_in_retry_on_lets_a_waiting_caller_compute():
    inflight: InFlight[str] = InFlight()
    started, release = threading.Event(), threading.Event()

    def lacking() -> str:
        started.set()
        release.wait(30)
        raise Lacking("a buffer is missing")

    def call(i: int) -> str:
        if i == 0:
            return inflight.run("key", lacking, retry_on=(Lacking,))
        started.wait(30)
        return inflight.run("key", lambda: "computed by the one that brought it", retry_on=(Lacking,))

    _release_once_waited_for(inflight, "key", 1, release)
    first, second = _concurrently(2, call)
    assert isinstance(first, Lacking)
    assert second == "computed by the one that brought it"


def test_without_retry_on_the_same_error_is_shared():
    inflight: InFlight[str] = InFlight()
    started, release = threading.Event(), threading.Event()

    def lacking() -> str:
        started.set()
        release.wait(30)
        raise Lacking("a buffer is missing")

    def call(i: int) -> str:
        if i == 0:
            return inflight.run("key", lacking)
        started.wait(30)
        return inflight.run("key", lambda: "not run")

    _release_once_waited_for(inflight, "key", 1, release)
    outcomes = _concurrently(2, call)
    assert all(isinstance(o, Lacking) for o in outcomes), outcomes
