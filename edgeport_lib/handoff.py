"""Sans-I/O parts of `--workers N`: worker ids in branches, a byte-level top-Via peek, and the
local hand-off messages between workers (see edgeport_lib/workers.py for the processes).

Branches. Every branch EdgePort creates is ``z9hG4bK`` + a random token (routing.new_branch).
With N > 1 workers, worker ``i`` creates ``z9hG4bKw<i>.`` + token instead, so the worker that
holds a client transaction can be read back from the top Via of any response to it.

Peek. ``peek_worker(data)`` looks at a received datagram or frame as bytes, without parsing
it: only a response (``SIP/2.0 ...``) whose first Via header's first element has a branch of
that form names a worker. Anything else, malformed input included, gives ``None``: "handle it
here", which is exactly what a single EdgePort does.

Hand-off messages (AF_UNIX datagrams between the workers of one EdgePort): one ASCII line of
space-separated fields, ``\\n``, then the raw SIP bytes when there are some:

- ``M <transport> <host> <port> <local port>`` + message: handle this message as if it had been
  received on that flow (a response that belongs to the receiving worker, or its UDP probe).
- ``S <transport> <host> <port>`` + message: send this over your open connection to that
  remote address (a request whose next hop is a client connected to the receiving worker).
- ``C <worker> <transport> <host> <port>`` / ``D ...``: that worker accepted / lost a
  connection from that address (the connection directory).
- ``F <worker>``: forget every connection of that worker (it has just (re)started).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .sip.via import MAGIC_COOKIE

MAX_WORKERS = 64
PROBE_MARK = b"\r\n\r\nw"  # the UDP health probe of a worker: keep-alive + "w<id>"

_BRANCH_ID = re.compile(r"z9hG4bKw(\d{1,2})\.")
# the first Via header line (long or compact name), up to the end of the line
_TOP_VIA = re.compile(rb"\n(?:via|v)[ \t]*:([^\r\n]*)", re.IGNORECASE)
_BRANCH_PARAM = re.compile(rb";[ \t]*branch[ \t]*=[ \t]*z9hG4bKw(\d{1,2})\.", re.IGNORECASE)
_PROBE = re.compile(rb"\r\n\r\nw(\d{1,2})\Z")


def branch_prefix(worker: int) -> str:
    """What every branch created by `worker` starts with."""
    if not 0 <= worker < MAX_WORKERS:
        raise ValueError(f"worker id {worker} out of range")
    return f"{MAGIC_COOKIE}w{worker}."


def worker_of_branch(branch: str) -> int | None:
    """The worker id in a branch made by `branch_prefix`, else None."""
    match = _BRANCH_ID.match(branch)
    return int(match.group(1)) if match else None


def peek_worker(data: bytes) -> int | None:
    """The worker named by the top Via branch of a response, on raw bytes; None when there is none."""
    if not data.startswith(b"SIP/2.0 "):
        return None
    end = data.find(b"\r\n\r\n")
    match = _TOP_VIA.search(data, 0, end if end >= 0 else len(data))
    if match is None:
        return None
    first = match.group(1).split(b",", 1)[0]
    found = _BRANCH_PARAM.search(first)
    return int(found.group(1)) if found else None


def probe_payload(worker: int) -> bytes:
    return PROBE_MARK + str(worker).encode()


def probe_worker(data: bytes) -> int | None:
    """The worker whose UDP probe this datagram is, else None."""
    match = _PROBE.match(data)
    return int(match.group(1)) if match else None


@dataclass(frozen=True, slots=True)
class HandOff:
    kind: str  # M, S, C, D, F (see the module docstring)
    fields: tuple[str, ...]
    data: bytes = b""


def encode(kind: str, *fields: object, data: bytes = b"") -> bytes:
    line = " ".join((kind, *map(str, fields)))
    if "\n" in line:
        raise ValueError("hand-off fields must not contain a newline")
    return line.encode("ascii") + b"\n" + data


_ARITY = {"M": 4, "S": 3, "C": 4, "D": 4, "F": 1}


def decode(raw: bytes) -> HandOff:
    """Parse a hand-off message; ValueError when it is not one."""
    head, sep, data = raw.partition(b"\n")
    if not sep:
        raise ValueError("no header line")
    parts = head.decode("ascii").split(" ")
    kind, fields = parts[0], tuple(parts[1:])
    if _ARITY.get(kind) != len(fields):
        raise ValueError(f"bad hand-off header {head[:80]!r}")
    return HandOff(kind, fields, data)
