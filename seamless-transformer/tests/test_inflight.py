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
            if future is not None and len(future._condition._waiters) >= waiters:  # type: ignore[attr-defined]
                break
            time.sleep(0.01)
        release.set()

    threading.Thread(target=watch, daemon=True).start()


def _race(first, later, callers: int, retry_on: tuple = ()) -> tuple[list, int]:
    """``callers`` threads run key "key": the first computes with ``first`` (held until every
    other one waits for it), the others come while it runs and would compute with ``later``.
    Returns what each got (value or exception) and how many computations started."""
    inflight: InFlight = InFlight()
    started, release = threading.Event(), threading.Event()
    computations = []

    def held() -> object:
        computations.append("first")
        started.set()
        release.wait(30)
        return first()

    def other() -> object:
        computations.append("later")
        return later()

    def call(i: int) -> object:
        if i:
            started.wait(30)  # the first one is computing
        return inflight.run("key", held if i == 0 else other, retry_on=retry_on)

    _release_once_waited_for(inflight, "key", callers - 1, release)
    outcomes = _concurrently(callers, call)
    assert inflight.run("key", lambda: "anew") == "anew", "a finished computation is not kept"
    return outcomes, len(computations)


def _fail(exc: Exception):
    def compute() -> object:
        raise exc

    return compute


def test_concurrent_callers_share_one_computation():
    outcomes, computations = _race(lambda: 42, lambda: 7, 4)
    assert outcomes == [42] * 4 and computations == 1


def test_an_error_is_every_waiting_callers_error():
    outcomes, computations = _race(_fail(ValueError("the function failed")), lambda: 7, 3)
    assert all(isinstance(o, ValueError) for o in outcomes), outcomes
    assert computations == 1


def test_an_error_in_retry_on_lets_a_waiting_caller_compute():
    outcomes, computations = _race(_fail(Lacking("a buffer is missing")), lambda: "brought it", 2, (Lacking,))
    assert isinstance(outcomes[0], Lacking) and outcomes[1] == "brought it"
    assert computations == 2


def test_without_retry_on_the_same_error_is_shared():
    outcomes, computations = _race(_fail(Lacking("a buffer is missing")), lambda: "brought it", 2)
    assert all(isinstance(o, Lacking) for o in outcomes), outcomes
    assert computations == 1
