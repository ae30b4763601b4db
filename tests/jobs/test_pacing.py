"""The sender's pacer: slots per channel and per workspace, checked on a fake clock."""

from __future__ import annotations

import threading

import pytest

from bot.jobs.pacing import Pacer


class FakeTime:
    """A monotonic clock that a sleep moves forward, so waits are exact and instant."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def pacer(fake: FakeTime, **rates: float | None) -> Pacer:
    return Pacer(clock=fake.clock, sleep=fake.sleep, **rates)  # type: ignore[arg-type]


def test_one_channel_gets_one_message_per_second() -> None:
    fake = FakeTime()
    pace = pacer(fake, per_workspace=None, per_channel=1.0)
    starts = []
    for _ in range(4):
        pace.wait("T1", "C1")
        starts.append(fake.now)
    assert starts == [100.0, 101.0, 102.0, 103.0]


def test_other_channels_go_at_the_workspace_pace() -> None:
    fake = FakeTime()
    pace = pacer(fake, per_workspace=4.0, per_channel=1.0)
    waits = [pace.wait("T1", f"U{i}") for i in range(5)]
    assert waits == pytest.approx([0.0, 0.25, 0.25, 0.25, 0.25])
    # Back to the first channel: its own second has passed, the workspace slot is next.
    assert pace.wait("T1", "U0") == pytest.approx(0.25)
    assert fake.now == pytest.approx(101.25)


def test_slots_are_first_come_first_served() -> None:
    """A message waiting for its channel also holds its workspace slot (strict order: simple,
    and the sender rarely posts twice to one channel in a run)."""
    fake = FakeTime()
    pace = pacer(fake, per_workspace=10.0, per_channel=1.0)
    pace.wait("T1", "C1")
    assert pace.wait("T1", "C1") == pytest.approx(1.0)  # the same channel waits its second
    assert pace.wait("T1", "C2") == pytest.approx(0.1)  # then the workspace pace
    assert pace.wait("T1", "C3") == pytest.approx(0.1)


def test_workspaces_are_paced_independently() -> None:
    fake = FakeTime()
    pace = pacer(fake, per_workspace=1.0, per_channel=1.0)
    assert pace.wait("T1", "C1") == 0.0
    assert pace.wait("T2", "C1") == 0.0  # same channel id, other workspace
    assert pace.wait("T1", "C2") == pytest.approx(1.0)


def test_idle_time_is_not_banked_as_a_burst() -> None:
    fake = FakeTime()
    pace = pacer(fake, per_workspace=2.0, per_channel=None)
    pace.wait("T1", "C1")
    fake.now += 60  # a quiet minute
    assert [pace.wait("T1", f"C{i}") for i in range(3)] == pytest.approx([0.0, 0.5, 0.5])


def test_concurrent_senders_get_distinct_evenly_spaced_slots() -> None:
    """50 threads at once: every reservation is its own slot, 1/rate apart, none shared."""
    now = 0.0
    delays: list[float] = []
    lock = threading.Lock()

    def record(seconds: float) -> None:  # the clock stays put: delays are the slots
        with lock:
            delays.append(seconds)

    pace = Pacer(per_workspace=20.0, per_channel=1.0, clock=lambda: now, sleep=record)
    barrier = threading.Barrier(50)

    def send(i: int) -> None:
        barrier.wait()
        pace.wait("T1", f"U{i}")

    threads = [threading.Thread(target=send, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    slots = sorted([0.0, *delays])  # the first caller does not sleep
    assert len(slots) == 50
    assert slots == pytest.approx([i / 20 for i in range(50)])


def test_forgetting_old_channels_keeps_memory_bounded() -> None:
    fake = FakeTime()
    pace = pacer(fake, per_workspace=None, per_channel=1.0)
    for i in range(5000):
        pace.wait("T1", f"U{i}")
        fake.now += 2.0  # every slot has passed by the time the next one is asked
    assert len(pace._next) < 1100


@pytest.mark.parametrize("rates", [{"per_workspace": 0.0}, {"per_channel": -1.0}])
def test_rates_must_be_positive(rates: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must be positive"):
        Pacer(**rates)  # type: ignore[arg-type]
