"""The capacity search's bookkeeping: passes, failures and a worker that cannot drain."""

from __future__ import annotations

from bench.capacity import CapacitySearch
from bench.workers import OURS


def _search() -> CapacitySearch:
    return CapacitySearch(OURS, worker=None)  # type: ignore[arg-type]


def test_a_pass_raises_the_floor_and_a_failure_lowers_the_ceiling() -> None:
    search = _search()
    assert search.next_probe() == 20
    search.record(20, 0.4, errors=0)
    assert (search.passed, search.upper) == (20, 40)
    assert search.next_probe() == 30
    search.record(30, 1.2, errors=1)
    assert (search.passed, search.upper) == (20, 29)
    assert [p["passed"] for p in search.probes] == [True, False]
    assert not search.done


def test_a_try_that_did_not_drain_fails_and_the_search_goes_on_once_it_recovered() -> None:
    search = _search()
    search.record(20, 0.4, errors=0)
    search.record_stall(30, recovered=True)
    assert (search.passed, search.upper, search.stalled) == (20, 29, False)
    assert search.probes[-1] == {
        "rooms": 30,
        "p95_s": None,
        "errors": 0,
        "passed": False,
        "drained": False,
    }
    assert not search.done


def test_a_worker_still_busy_after_the_longer_wait_ends_its_search() -> None:
    search = _search()
    search.record(20, 0.4, errors=0)
    search.record_stall(30, recovered=False)
    assert (search.passed, search.upper, search.stalled) == (20, 20, True)
    assert search.done
