"""The crowd's top-up: it sends what the plan asks for beyond the journeys, and never a backlog."""

from loadtests.double11.crowd import top_up


def run(*, rate: float, journeys_per_tick: int, ticks: int, dt: float = 0.02) -> int:
    credit, sent_by_crowd, last_sent = 0.0, 0, 0
    for _ in range(ticks):
        credit, due = top_up(credit=credit, rate=rate, dt=dt,
                             sent_since=last_sent + journeys_per_tick)
        sent_by_crowd += due
        last_sent = due
    return sent_by_crowd


def test_with_no_journeys_the_crowd_sends_the_planned_rate():
    assert abs(run(rate=500.0, journeys_per_tick=0, ticks=500) - 500.0 * 10) <= 2


def test_the_crowd_sends_only_what_the_journeys_leave_of_the_plan():
    # journeys send 2 a tick (100/s) of a plan of 500/s: the crowd sends the other 400/s
    assert abs(run(rate=500.0, journeys_per_tick=2, ticks=500) - 400.0 * 10) <= 2


def test_journeys_above_the_plan_leave_the_crowd_silent_and_owe_at_most_a_second():
    assert run(rate=50.0, journeys_per_tick=5, ticks=500) == 0
    credit, _ = top_up(credit=0.0, rate=50.0, dt=0.02, sent_since=10_000)
    assert credit == -50.0
    credit, due = top_up(credit=0.0, rate=50.0, dt=30.0, sent_since=0)
    assert (credit, due) == (50.0, 50)      # a stalled loop never sends a burst of backlog
