"""A short fuzzing run (hypothesis, seeded with tests/corpus) of the parser, the stream framer and
what the edge does with their output; the oracles are in fuzz/targets.py, the long run is
`python fuzz/fuzz_parser.py --minutes N`.

Runs are derandomized (the same inputs every time) so the suite stays stable; the long run
explores. Findings already reported (fuzz.targets.KNOWN_BUGS) are tolerated by the exploring
tests and pinned by strict xfails on their reproducers: when a bug is fixed, its xfail fails,
and the entry in KNOWN_BUGS goes too.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgeport_lib.sip.errors import SipParseError
from edgeport_lib.sip.framer import FramingError, StreamFramer
from edgeport_lib.sip.parser import parse_message
from fuzz import targets
from fuzz.targets import Finding, check, check_message, check_stream, known_bug

CORPUS = targets.load_corpus()
SEEDS = [data for _, data in CORPUS]
SHORT = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)

# corpus files on which a known bug shows (its reproducer, in corpus form)
KNOWN_IN_CORPUS: dict[str, str] = {}


def _tolerating_known_bugs(action, *args) -> None:
    try:
        action(*args)
    except Finding as finding:
        if known_bug(finding) is None:
            raise


# -- the corpus itself, as datagrams and as streams read in pieces --------------------------------
def _corpus_params():
    for name, data in CORPUS:
        marks = []
        if name in KNOWN_IN_CORPUS:
            bug = next(b for b in targets.KNOWN_BUGS if b.name == KNOWN_IN_CORPUS[name])
            marks.append(pytest.mark.xfail(strict=True, raises=Finding, reason=f"BUG {bug.description}"))
        yield pytest.param(data, id=name, marks=marks)


@pytest.mark.parametrize("data", _corpus_params())
def test_corpus_message_passes_every_oracle(data: bytes) -> None:
    check(data, cuts=range(1, len(data), 7))
    check(data + b"\r\n\r\n" + data, cuts=[len(data) + 2])  # two in a row, with a ping between


# -- exploring: mutated corpus messages, random bytes, streams ------------------------------------
@st.composite
def mutated(draw) -> bytes:
    rnd = draw(st.randoms(use_true_random=False))
    return targets.mutate(draw(st.sampled_from(SEEDS)), rnd, SEEDS)


@settings(SHORT, max_examples=1500)
@given(mutated(), st.sampled_from([targets.DEFAULT, targets.SMALL]))
def test_mutated_corpus_messages(data: bytes, limits) -> None:
    _tolerating_known_bugs(check_message, data, limits)


@settings(SHORT, max_examples=600)
@given(st.binary(max_size=2000))
def test_random_bytes(data: bytes) -> None:
    _tolerating_known_bugs(check, data, [len(data) // 2, len(data) // 2 + 1])


@settings(SHORT, max_examples=600)
@given(st.lists(mutated(), min_size=1, max_size=3), st.randoms(use_true_random=False))
def test_mutated_streams_read_in_pieces(messages: list[bytes], rnd: random.Random) -> None:
    stream = targets.stream_of(messages, rnd)
    _tolerating_known_bugs(check_stream, stream, targets.random_cuts(len(stream), rnd))


# -- reproducers of the known bugs ----------------------------------------------------------------
PENDING = sorted((Path(targets.__file__).parent / "pending").glob("*.sip"))


def _pending_params():
    for path in PENDING:
        comment = json.loads(path.with_suffix(".json").read_text()).get("comment", "")
        yield pytest.param(path, id=path.name, marks=pytest.mark.xfail(strict=True, reason=f"BUG {comment}"))


@pytest.mark.parametrize("path", _pending_params())
def test_pending_corpus_case(path: Path) -> None:
    """fuzz/pending/: a tests/corpus case the code does not meet yet (see fuzz/pending/README.md)."""
    expectation = json.loads(path.with_suffix(".json").read_text())
    data = targets.wire_bytes(path)
    if expectation["valid"]:
        parse_message(data)
    else:
        with pytest.raises(SipParseError) as info:
            parse_message(data)
        reasons = (
            expectation["reason"] if isinstance(expectation["reason"], list) else [expectation["reason"]]
        )
        assert any(r.lower() in info.value.reason.lower() for r in reasons)
    check(data)


def test_pending_cases_show_their_known_bug() -> None:
    for path in PENDING:
        with pytest.raises(Finding) as info:
            check_message(targets.wire_bytes(path))
        assert known_bug(info.value) is not None, (path.name, info.value.signature)


GOOD = (
    b"OPTIONS sip:bob@example.net SIP/2.0\r\n"
    b"Via: SIP/2.0/TCP 192.0.2.10:5060;branch=z9hG4bKgood\r\n"
    b"From: <sip:alice@example.com>;tag=good\r\n"
    b"To: <sip:bob@example.net>\r\n"
    b"Call-ID: good@192.0.2.10\r\n"
    b"CSeq: 1 OPTIONS\r\n"
    b"Content-Length: 0\r\n"
    b"\r\n"
)
UNFRAMABLE = b"OPTIONS sip:bob@example.net SIP/2.0\r\nContent-Length: lots\r\n\r\n"


def test_a_complete_message_read_alone_is_handed_over() -> None:
    framer = StreamFramer()
    assert framer.feed(GOOD) == [GOOD]
    with pytest.raises(FramingError):
        framer.feed(UNFRAMABLE)


def test_a_complete_message_before_unframable_bytes_is_handed_over() -> None:
    framer = StreamFramer()
    delivered: list = []
    try:
        delivered += framer.feed(GOOD + UNFRAMABLE)
        delivered += framer.feed(b"")
    except FramingError as error:
        delivered += list(getattr(error, "frames", []))
    assert delivered == [GOOD]


def test_an_unknown_finding_is_not_tolerated(monkeypatch: pytest.MonkeyPatch) -> None:
    """The oracles do catch a crash: a parser that raises something else than SipParseError."""

    def broken(data, limits=None):
        raise KeyError("boom")

    monkeypatch.setattr(targets, "parse_message", broken)
    with pytest.raises(Finding) as info:
        check_message(GOOD)
    assert info.value.where == "parser" and known_bug(info.value) is None
