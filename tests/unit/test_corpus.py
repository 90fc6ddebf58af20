"""Data-driven parser tests over the SIP message corpus in tests/corpus/.

Each `<name>.sip` holds one message and `<name>.json` its expected outcome; the format is
described in tests/corpus/README.md.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

CORPUS_DIR = Path(__file__).resolve().parent.parent / "corpus"
SIP_FILES = sorted(CORPUS_DIR.glob("*.sip"))
MIN_FILES = 60

COMMON_KEYS = {"comment", "raw", "valid"}
VALID_KEYS = COMMON_KEYS | set(
    "roundtrip method uri status reason version headers header_names header_count absent body_length "
    "body_hex".split()
)
INVALID_KEYS = COMMON_KEYS | {"reason", "can_reply"}


def _expectation(path: Path) -> dict[str, Any]:
    return json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))


def _wire_bytes(path: Path, expectation: dict[str, Any]) -> bytes:
    """The message as it goes on the wire: LF turned into CRLF unless the case is raw."""
    data = path.read_bytes()
    if expectation.get("raw", False):
        return data
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _valid_roundtrip_cases() -> list[Path]:
    out = []
    for path in SIP_FILES:
        try:
            expectation = _expectation(path)
        except (OSError, ValueError):
            continue  # reported by test_expectation_is_well_formed
        if expectation.get("valid") is True and expectation.get("roundtrip", True):
            out.append(path)
    return out


ROUNDTRIP_FILES = _valid_roundtrip_cases()


@pytest.fixture(scope="module")
def parser():
    return pytest.importorskip("edgeport_lib.sip.parser")


@pytest.fixture(scope="module")
def serializer():
    return pytest.importorskip("edgeport_lib.sip.serializer")


def _snapshot(msg) -> tuple:
    """What a round trip must preserve."""
    return (
        msg.method,
        msg.uri,
        msg.status,
        msg.reason,
        [(h.name, h.value) for h in msg.headers],
        msg.body,
    )


# -- the corpus itself ------------------------------------------------------------------------------
def test_corpus_is_large_enough():
    assert len(SIP_FILES) >= MIN_FILES, f"only {len(SIP_FILES)} .sip files in {CORPUS_DIR}"


def test_every_file_has_a_partner():
    sips = {p.stem for p in SIP_FILES}
    jsons = {p.stem for p in CORPUS_DIR.glob("*.json")}
    assert sorted(sips - jsons) == [], "messages without an expectation"
    assert sorted(jsons - sips) == [], "expectations without a message"


@pytest.mark.parametrize("path", SIP_FILES, ids=[p.name for p in SIP_FILES])
def test_expectation_is_well_formed(path: Path):
    expectation = _expectation(path)
    assert isinstance(expectation.get("valid"), bool), "'valid' must be true or false"
    allowed = VALID_KEYS if expectation["valid"] else INVALID_KEYS
    unknown = set(expectation) - allowed
    assert not unknown, f"unknown keys: {sorted(unknown)}"
    if expectation["valid"]:
        kinds = ("method" in expectation, "status" in expectation)
        assert kinds in ((True, False), (False, True)), "a request has 'method', a response 'status'"
        for name, values in expectation.get("headers", {}).items():
            assert isinstance(values, list), f"headers[{name!r}] must be a list of values"
    else:
        assert "reason" in expectation, "an invalid case names the expected reason"
        reasons = expectation["reason"]
        assert isinstance(reasons, str | list) and reasons, "'reason' is a string or a non-empty list"
    if not expectation.get("raw", False):
        data = path.read_bytes()
        assert b"\r" not in data, "non-raw files use LF line ends (the runner makes them CRLF)"
        assert b"\x00" not in data, "NUL bytes only in raw cases"


# -- the parser against the corpus --------------------------------------------------------------------
@pytest.mark.parametrize("path", SIP_FILES, ids=[p.name for p in SIP_FILES])
def test_corpus_case(path: Path, parser):
    expectation = _expectation(path)
    data = _wire_bytes(path, expectation)
    if expectation["valid"]:
        _check_valid(parser, data, expectation)
    else:
        _check_invalid(parser, data, expectation)


def _check_valid(parser, data: bytes, expectation: dict[str, Any]) -> None:
    try:
        msg = parser.parse_message(data)
    except parser.SipParseError as err:
        pytest.fail(f"valid message rejected: {err.reason}")

    if "method" in expectation:
        assert msg.is_request
        assert msg.method == expectation["method"]
        assert msg.status is None
    if "status" in expectation:
        assert not msg.is_request
        assert msg.status == expectation["status"]
    if "uri" in expectation:
        assert msg.uri == expectation["uri"]
    if "reason" in expectation:
        assert msg.reason == expectation["reason"]
    if "version" in expectation:
        assert msg.version == expectation["version"]
    if "header_names" in expectation:
        assert [h.name for h in msg.headers] == expectation["header_names"]
    if "header_count" in expectation:
        assert len(msg.headers) == expectation["header_count"]
    for name, values in expectation.get("headers", {}).items():
        assert msg.values(name) == values, f"header {name}"
    for name in expectation.get("absent", []):
        assert msg.count(name) == 0, f"header {name} should be absent"
    if "body_length" in expectation:
        assert len(msg.body) == expectation["body_length"]
    if "body_hex" in expectation:
        assert msg.body.hex() == expectation["body_hex"]


def _check_invalid(parser, data: bytes, expectation: dict[str, Any]) -> None:
    with pytest.raises(parser.SipParseError) as info:
        parser.parse_message(data)
    err = info.value
    reasons = expectation["reason"]
    if isinstance(reasons, str):
        reasons = [reasons]
    assert any(r.lower() in err.reason.lower() for r in reasons), (
        f"reason {err.reason!r} mentions none of {reasons}"
    )
    if "can_reply" in expectation:
        assert err.can_reply is expectation["can_reply"]


@pytest.mark.parametrize("path", ROUNDTRIP_FILES, ids=[p.name for p in ROUNDTRIP_FILES])
def test_corpus_roundtrip(path: Path, parser, serializer):
    """parse(serialize(parse(data))) gives the same message as parse(data)."""
    data = _wire_bytes(path, _expectation(path))
    try:
        first = parser.parse_message(data)
    except parser.SipParseError:
        pytest.skip("rejected by the parser: reported by test_corpus_case")
    again = parser.parse_message(serializer.serialize(first))
    assert _snapshot(again) == _snapshot(first)
