"""Header values of the corpus's messages, and of mutations of them (the fuzzer's mutator,
seeded), for the conversion tests that check them one by one."""

from __future__ import annotations

import random
from collections.abc import Iterator

from edgeport_lib.sip.errors import SipParseError
from edgeport_lib.sip.headers import split_list
from edgeport_lib.sip.parser import parse_message
from fuzz import targets

SEEDS = [data for _, data in targets.load_corpus()]

_LISTS = ("via", "route", "record-route")  # split into their elements


def header_values(data: bytes, keys: tuple[str, ...] | dict) -> list[tuple[str, str]]:
    """(key, value) of every header of `data` named in `keys`, list headers element by element;
    none when `data` does not parse."""
    try:
        msg = parse_message(data)
    except SipParseError:
        return []
    found = []
    for header in msg.headers:
        if header.key in keys:
            elements = split_list(header.value) if header.key in _LISTS else [header.value]
            found += [(header.key, element) for element in elements]
    return found


def corpus_values(keys: tuple[str, ...] | dict) -> list[tuple[str, str]]:
    return [pair for data in SEEDS for pair in header_values(data, keys)]


def mutated_values(keys: tuple[str, ...] | dict, seed: int, rounds: int = 2000) -> Iterator[tuple[str, str]]:
    """The values of `rounds` mutated corpus messages that have such headers, the same every run."""
    rnd = random.Random(seed)
    seeds = [data for data in SEEDS if header_values(data, keys)]
    for _ in range(rounds):
        yield from header_values(targets.mutate(rnd.choice(seeds), rnd, SEEDS), keys)
