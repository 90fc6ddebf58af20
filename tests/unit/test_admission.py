"""The gate of spec.limits.maxProcessorDelay, fed delays and times by hand."""

from edgeport_lib.admission import HOLD, SLOW_ANSWERS, ProcessorDelayGate


def slow_answers(gate: ProcessorDelayGate, count: int, now: float = 10.0) -> None:
    for _ in range(count):
        gate.record(gate.max_delay * 2, now)


def test_a_run_of_slow_answers_closes_the_gate():
    gate = ProcessorDelayGate(0.5)
    slow_answers(gate, SLOW_ANSWERS - 1)
    assert not gate.refusing(10.0)  # a few slow lookups are not a queue
    slow_answers(gate, 1)
    assert gate.refusing(10.0)
    assert gate.last_delay == 1.0


def test_one_quick_answer_opens_it_again():
    gate = ProcessorDelayGate(0.5)
    slow_answers(gate, SLOW_ANSWERS)
    gate.record(0.5, 10.1)  # not longer than the limit
    assert not gate.refusing(10.1)
    slow_answers(gate, SLOW_ANSWERS - 1, now=10.2)
    assert not gate.refusing(10.2)  # the count starts again


def test_without_answers_it_opens_after_the_hold():
    gate = ProcessorDelayGate(0.5)
    slow_answers(gate, SLOW_ANSWERS, now=10.0)
    assert gate.refusing(10.0 + HOLD - 0.01)
    assert not gate.refusing(10.0 + HOLD)
    slow_answers(gate, 1, now=12.0)  # the request let through was slow too: closed at once
    assert gate.refusing(12.0)


def test_zero_turns_it_off():
    gate = ProcessorDelayGate(0)
    for _ in range(100):
        gate.record(30.0, 10.0)
    assert not gate.refusing(10.0)
