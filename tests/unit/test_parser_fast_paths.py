"""The parser's fast path for the common head shape gives exactly what the careful path gives.

parse_message tries parser._parse_plain_head first and falls back to _parse_head_carefully when
the head is not of the common shape. Whenever the fast path answers, the careful path must give
the same message and body; on the corpus and on mutations of it (the fuzzer's mutator, seeded).
"""

from __future__ import annotations

import random

import pytest

from edgeport_lib.sip import parser
from edgeport_lib.sip.errors import SipParseError
from edgeport_lib.sip.limits import DEFAULT_LIMITS, Limits
from fuzz import targets

SEEDS = [data for _, data in targets.load_corpus()]
LIMITS = [DEFAULT_LIMITS, Limits(max_message_size=1500, max_headers=5, max_line_length=60)]


def _snapshot(msg):
    return (msg.method, msg.uri, msg.status, msg.reason, msg.version,
            [(h.name, h.value, h.key) for h in msg.headers])


def _agree(data: bytes, limits: Limits) -> bool:
    """Whether the fast path answered (and, if so, agreed with the careful path)."""
    data = data.lstrip(b"\r\n")
    fast = parser._parse_plain_head(data, limits)
    if fast is None:
        return False
    try:
        careful = parser._parse_head_carefully(data, limits)
    except SipParseError as error:
        pytest.fail(f"fast path accepted what the careful path rejects ({error.reason}): {data[:200]!r}")
    assert _snapshot(fast[0]) == _snapshot(careful[0]), data[:200]
    assert fast[1] == careful[1], data[:200]
    return True


@pytest.fixture(scope="module", autouse=True)
def _names_met():
    """The fast path only knows header names the careful path has met: meet the corpus's."""
    for data in SEEDS:
        try:
            parser.parse_message(data)
        except SipParseError:
            pass


@pytest.mark.parametrize("limits", LIMITS, ids=["default", "small"])
def test_fast_path_agrees_on_the_corpus(limits: Limits) -> None:
    answered = sum(_agree(data, limits) for data in SEEDS)
    if limits is DEFAULT_LIMITS:
        assert answered > len(SEEDS) // 3  # the fast path is really taken


def test_fast_path_agrees_on_mutations() -> None:
    rnd = random.Random(2024)
    for _ in range(3000):
        data = targets.mutate(rnd.choice(SEEDS), rnd, SEEDS)
        _agree(data, rnd.choice(LIMITS))
