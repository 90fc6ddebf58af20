"""RFC 3261 section 17 transactions, sans-I/O (no sockets, no gevent, no clock).

Every event method returns a list of *actions* (small frozen dataclasses) that the adapter
carries out in order:

    Send(message)          pass this message to the transport (request or response)
    StartTimer(name, delay) schedule ``txn.on_timer(name)`` after ``delay`` seconds; starting a
                           timer whose name is already scheduled replaces it
    CancelTimer(name)      unschedule that timer
    PassUp(message)        hand this message to the core (a response, or an ACK in Accepted)
    Timeout()              timer B, C, F or H fired: the transaction failed (a proxy answers 408 upstream)
    TransportFailed()      the adapter reported a transport error (``on_transport_error``)
    SendCancel()           timer C fired after a provisional: CANCEL the INVITE, then call ``cancel()``
    Terminated()           the transaction has ended; it is already out of its table

Timer names are ``Timer`` members and state names ``State`` members; both are ``StrEnum``s, so
``StartTimer("A", 0.5)`` and ``txn.state == "Proceeding"`` compare as expected.  Timers fire through
``txn.on_timer(name)``; a timer that is no longer running (cancelled, or the transaction ended) is
ignored, so a race between a firing timer and a ``CancelTimer`` is harmless.  Wait timers that are
zero over reliable transports (D, I, J, K) are never emitted: the transaction goes straight to
Terminated.

Server side (a request arrived)::

    txn = servers.match(branch, sent_by, request.method)   # branch, sent-by: from the top Via
    if txn is not None:                       # retransmission, or ACK for a non-2xx final
        run(txn.on_request(request))          # re-sends the last response, or absorbs it
    elif request.method == "ACK":
        ...                                   # ACK for a 2xx: end-to-end, the core forwards it
    else:
        txn = servers.create(request, branch, sent_by, reliable=..., context=...)  # may raise TableFull
        if txn.should_send_trying:            # INVITE: answer 100 Trying at once
            run(txn.send_response(trying))
        ...                                   # hand the request to the core
    run(txn.send_response(response))          # later, every response for it goes through here

    CANCEL is a transaction of its own (same branch, method CANCEL); the INVITE it cancels is
    ``servers.find_invite_for_cancel(branch, sent_by)``.

Client side (the proxy forwards a request)::

    txn = clients.create(request, branch, reliable=..., context=...)   # branch of the Via we added
    run(txn.start())                          # Send(request) and timers A/B/C or E/F
    txn = clients.match(branch, response.cseq[1])                 # a response arrived
    run(txn.on_response(response)) if txn else forward_statelessly(response)

Classes: ``InviteServerTransaction``, ``NonInviteServerTransaction``, ``InviteClientTransaction``,
``NonInviteClientTransaction`` (all with ``state``, ``key``, ``request``, ``reliable``, ``context``,
``on_timer``, ``on_transport_error``), the tables ``ServerTransactionTable`` and
``ClientTransactionTable`` (``create``, ``match``, ``get``, ``len``; ``create`` raises ``TableFull``
beyond ``max_size``), and ``TimerConfig`` (T1 = 0.5 s, T2 = 4 s, T4 = 5 s, D = 32 s, C = 180 s by
default).

Choices worth knowing:

- RFC 6026 Accepted state for INVITE: after a 2xx the server transaction stays Accepted for timer L
  (64*T1), sending further 2xx from the core, absorbing retransmitted INVITEs (so they are not
  forwarded again as new requests) and passing up any matching ACK; the client transaction stays
  Accepted for timer M (64*T1), passing up every 2xx (retransmissions and forks) for the proxy to
  relay.  Neither ever builds an ACK for a 2xx.
- Provisional responses are passed up once per distinct response (same status, reason, headers and
  body = a retransmission), except reliable provisionals (with RSeq, RFC 3262): their
  retransmissions are end-to-end, like 2xx, so every copy is passed up for the proxy to relay.
- Timer B stops when an INVITE gets a provisional (RFC 3261 figure 5). The proxy's timer C
  (16.6 step 11) runs in the INVITE client transaction too, with the other timers: see
  ``InviteClientTransaction``.
- A finished transaction keeps only what it still needs while it waits out its last timer:
  ``request`` (and ``last_response`` of an INVITE server transaction) becomes None on entering
  Completed or Accepted (Confirmed, for an INVITE server), as that state no longer sends it.
  An INVITE server transaction keeps both in Completed (timer G, and the adapter's answer when
  timer H fires); a non-INVITE one keeps ``last_response`` for retransmissions (over UDP as
  the bytes it sent, a ``SentResponse``: timer J keeps it 32 s); an INVITE client
  transaction keeps its ``ack``.
- Keys are exact on branch (case-sensitive); sent-by is compared case-insensitively; methods are
  upper-cased.  An empty branch cannot key a transaction (``ValueError``); ``match`` returns None.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, NamedTuple, TypeAlias, TypeVar

from .sip.message import Header, SentResponse, SipMessage, message_fingerprint
from .sip.serializer import sent_response
from .sip.via import MAGIC_COOKIE

T1 = 0.5  # RTT estimate
T2 = 4.0  # maximum retransmit interval for non-INVITE requests and INVITE responses
T4 = 5.0  # maximum time a message stays in the network
TIMER_D = 32.0  # wait for response retransmissions (INVITE client, unreliable)
TIMER_C = 180.0  # a proxied INVITE's wait for a final response (RFC 3261 16.6 step 11: > 3 min)
DEFAULT_MAX_TRANSACTIONS = 100_000
_MAX_REMEMBERED_PROVISIONALS = 32  # bounds memory per transaction against a flood of distinct 1xx


@dataclass(frozen=True, slots=True)
class TimerConfig:
    """Timer base values in seconds (RFC 3261 table 4)."""

    t1: float = T1
    t2: float = T2
    t4: float = T4
    d: float = TIMER_D
    c: float = TIMER_C

    @property
    def long(self) -> float:
        """64*T1: timers B, F, H, J (and L, M of RFC 6026)."""
        return 64 * self.t1


DEFAULT_TIMERS = TimerConfig()


class State(enum.StrEnum):
    CALLING = "Calling"
    TRYING = "Trying"
    PROCEEDING = "Proceeding"
    COMPLETED = "Completed"
    CONFIRMED = "Confirmed"
    ACCEPTED = "Accepted"
    TERMINATED = "Terminated"


_PENDING_STATES = frozenset({State.CALLING, State.TRYING, State.PROCEEDING})


class Timer(enum.StrEnum):
    A = "A"  # INVITE client: request retransmission (unreliable)
    B = "B"  # INVITE client: transaction timeout
    C = "C"  # INVITE client, proxy (RFC 3261 16.6 step 11, 16.8): no final response yet
    D = "D"  # INVITE client: wait for final response retransmissions
    E = "E"  # non-INVITE client: request retransmission (unreliable)
    F = "F"  # non-INVITE client: transaction timeout
    G = "G"  # INVITE server: final response retransmission (unreliable)
    H = "H"  # INVITE server: wait for ACK
    I = "I"  # noqa: E741 - INVITE server: wait for ACK retransmissions
    J = "J"  # non-INVITE server: wait for request retransmissions
    K = "K"  # non-INVITE client: wait for response retransmissions
    L = "L"  # INVITE server, Accepted (RFC 6026)
    M = "M"  # INVITE client, Accepted (RFC 6026)


# -- actions ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Send:
    message: SipMessage | SentResponse


@dataclass(frozen=True, slots=True)
class StartTimer:
    name: Timer
    delay: float


@dataclass(frozen=True, slots=True)
class CancelTimer:
    name: Timer


@dataclass(frozen=True, slots=True)
class PassUp:
    message: SipMessage


@dataclass(frozen=True, slots=True)
class Timeout:
    pass


@dataclass(frozen=True, slots=True)
class TransportFailed:
    pass


@dataclass(frozen=True, slots=True)
class SendCancel:
    """Timer C fired after a provisional: the core CANCELs the INVITE, then calls ``cancel()``."""


@dataclass(frozen=True, slots=True)
class Terminated:
    pass


Action: TypeAlias = (Send | StartTimer | CancelTimer | PassUp | Timeout | TransportFailed | SendCancel
                     | Terminated)


# -- keys ---------------------------------------------------------------------------------


def is_rfc3261_branch(branch: str) -> bool:
    """Whether the branch carries the RFC 3261 magic cookie (else it may not be unique)."""
    return branch.startswith(MAGIC_COOKIE)


def _checked_branch(branch: str) -> str:
    if not branch:
        raise ValueError("a transaction needs a Via branch")
    return branch


class ServerTransactionKey(NamedTuple):
    """RFC 3261 17.2.3: top Via branch and sent-by, and the method (ACK counts as INVITE)."""

    branch: str
    sent_by: str
    method: str

    @classmethod
    def for_request(cls, branch: str, sent_by: str, method: str) -> ServerTransactionKey:
        method = method.upper()
        if method == "ACK":
            method = "INVITE"
        return cls(_checked_branch(branch), sent_by.strip().lower(), method)


class ClientTransactionKey(NamedTuple):
    """RFC 3261 17.1.3: the top Via branch and the CSeq method."""

    branch: str
    method: str

    @classmethod
    def for_request(cls, branch: str, method: str) -> ClientTransactionKey:
        return cls(_checked_branch(branch), method.upper())

    for_response = for_request  # pass the response's top Via branch and CSeq method


# -- the non-2xx ACK ----------------------------------------------------------------------


def build_ack(request: SipMessage, response: SipMessage) -> SipMessage:
    """The hop-by-hop ACK for a 3xx-6xx response to ``request`` (RFC 3261 17.1.1.3)."""
    number, _ = request.cseq
    headers: list[Header] = []
    if (top_via := request.top_via) is not None:
        headers.append(Header("Via", top_via))
    headers.append(Header("Max-Forwards", "70"))
    headers.extend(Header("Route", value) for value in request.get_all("Route"))
    for name, source in (("From", request), ("To", response), ("Call-ID", request)):
        if (value := source.get(name)) is not None:
            headers.append(Header(name, value))
    headers.append(Header("CSeq", f"{number} ACK"))
    headers.append(Header("Content-Length", "0"))
    return SipMessage(method="ACK", uri=request.uri, headers=headers)


# -- transactions -------------------------------------------------------------------------

Key = TypeVar("Key", ServerTransactionKey, ClientTransactionKey)


class Transaction(Generic[Key]):
    """Shared machinery: the state, the running timers and the way to Terminated.

    ``_goto`` is the only place a state changes.  Each subclass declares which timers may keep
    running in each state (``_TIMERS``; the others are cancelled on entry), what entering a
    state starts (``_enter``) and what it no longer needs (``_release``).

    ``request`` is None once the transaction no longer needs it: a finished transaction waits
    out its last timer (up to 64*T1) holding only what answers retransmissions.  It is kept in
    Terminated, which the adapter handles together with a Timeout or TransportFailed.
    """

    _INITIAL: ClassVar[State]
    _TIMERS: ClassVar[dict[State, frozenset[Timer]]] = {}

    def __init__(
        self,
        key: Key,
        request: SipMessage,
        *,
        reliable: bool = False,
        timers: TimerConfig = DEFAULT_TIMERS,
        context: Any = None,
        on_terminated: Callable[[Transaction[Key]], None] | None = None,
    ) -> None:
        self.key = key
        self.request: SipMessage | None = request
        self.reliable = reliable
        self.timers = timers
        self.context = context  # opaque, for the adapter
        self.state: State = self._INITIAL
        self._running: dict[Timer, float] = {}  # running timers and their current interval
        self._on_terminated = on_terminated

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.key} {self.state}>"

    @property
    def terminated(self) -> bool:
        return self.state is State.TERMINATED

    @property
    def pending(self) -> bool:
        """No final response yet; after one, a transaction only waits out its timers."""
        return self.state in _PENDING_STATES

    @property
    def running_timers(self) -> frozenset[Timer]:
        return frozenset(self._running)

    def on_timer(self, name: str) -> list[Action]:
        """A timer fired; timers no longer running are ignored."""
        try:
            timer = Timer(name)
        except ValueError:
            return []
        interval = self._running.pop(timer, None)
        if interval is None or self.terminated:
            return []
        return self._timer_fired(timer, interval)

    def on_transport_error(self) -> list[Action]:
        """The transport could not send for this transaction (RFC 3261 17.1.4, 17.2.4)."""
        if self.terminated:
            return []
        return [TransportFailed(), *self._goto(State.TERMINATED)]

    # -- for subclasses --------------------------------------------------------------------
    def _timer_fired(self, timer: Timer, interval: float) -> list[Action]:
        raise NotImplementedError

    def _enter(self, state: State) -> list[Action]:
        """The timers a state starts on entry."""
        return []

    def _release(self, state: State) -> None:
        """Drop what a state, entered now, no longer needs (never called for Terminated)."""

    def _goto(self, state: State) -> list[Action]:
        """Change state: cancel the timers the new state does not keep, then enter it."""
        if state is self.state:
            return []
        keep = self._TIMERS.get(state, frozenset())
        actions: list[Action] = []
        for timer in sorted(self._running):
            if timer not in keep:
                del self._running[timer]
                actions.append(CancelTimer(timer))
        self.state = state
        if state is not State.TERMINATED:
            self._release(state)
            return actions + self._enter(state)
        actions.append(Terminated())
        if self._on_terminated is not None:
            self._on_terminated(self)
        return actions

    def _start(self, timer: Timer, delay: float) -> StartTimer:
        self._running[timer] = delay
        return StartTimer(timer, delay)

    def _retransmit_timer(self, timer: Timer, delay: float) -> list[Action]:
        """Retransmission timers (A, E, G) run over unreliable transports only."""
        return [] if self.reliable else [self._start(timer, delay)]

    def _wait(self, timer: Timer, delay: float) -> list[Action]:
        """Wait timers (D, I, J, K) are zero over reliable transports: end at once."""
        if self.reliable:
            return self._goto(State.TERMINATED)
        return [self._start(timer, delay)]

    def _timeout(self) -> list[Action]:
        return [Timeout(), *self._goto(State.TERMINATED)]


def _status(response: SipMessage | SentResponse) -> int:
    return response.status or 0


# -- server transactions ------------------------------------------------------------------


class ServerTransaction(Transaction[ServerTransactionKey]):
    """Common part of the server transactions: the request came in, responses go out."""

    def __init__(self, key: ServerTransactionKey, request: SipMessage, **kwargs: Any) -> None:
        super().__init__(key, request, **kwargs)
        self.last_response: SipMessage | SentResponse | None = None  # what a retransmission gets again

    @property
    def should_send_trying(self) -> bool:
        """Whether the adapter should send 100 Trying now (INVITE, nothing sent yet)."""
        return False

    def on_request(self, request: SipMessage) -> list[Action]:
        """A request matching this transaction: a retransmission, or (INVITE) an ACK."""
        if self.terminated:
            return []
        if (request.method or "").upper() == "ACK":
            return self._on_ack(request)
        return self._on_retransmission()

    def send_response(self, response: SipMessage | SentResponse) -> list[Action]:
        """The core sends a response through this transaction (a 2xx it relayed before as bytes)."""
        raise NotImplementedError

    def _on_ack(self, ack: SipMessage) -> list[Action]:
        return []

    def _on_retransmission(self) -> list[Action]:
        if self.state in (State.PROCEEDING, State.COMPLETED) and self.last_response is not None:
            return [Send(self.last_response)]
        return []


class NonInviteServerTransaction(ServerTransaction):
    """RFC 3261 17.2.2: Trying -> Proceeding -> Completed -(J)-> Terminated."""

    _INITIAL = State.TRYING
    _TIMERS = {State.COMPLETED: frozenset({Timer.J})}

    def send_response(self, response: SipMessage) -> list[Action]:
        if self.state not in (State.TRYING, State.PROCEEDING):
            return []
        self.last_response = response
        final = _status(response) >= 200
        actions = self._goto(State.COMPLETED if final else State.PROCEEDING)
        return [Send(self.last_response), *actions]  # a final one as kept: serialized once

    def _enter(self, state: State) -> list[Action]:
        if state is State.COMPLETED:
            return self._wait(Timer.J, self.timers.long)
        return []

    def _release(self, state: State) -> None:
        if state is State.COMPLETED:
            self.request = None  # retransmissions get last_response
            if not self.reliable and isinstance(self.last_response, SipMessage):
                self.last_response = sent_response(self.last_response)  # kept for timer J, 32 s

    def _timer_fired(self, timer: Timer, interval: float) -> list[Action]:
        return self._goto(State.TERMINATED)  # J


class InviteServerTransaction(ServerTransaction):
    """RFC 3261 17.2.1 with RFC 6026: Proceeding -> Completed -> Confirmed, or -> Accepted."""

    _INITIAL = State.PROCEEDING
    _TIMERS = {
        State.COMPLETED: frozenset({Timer.G, Timer.H}),
        State.CONFIRMED: frozenset({Timer.I}),
        State.ACCEPTED: frozenset({Timer.L}),
    }

    @property
    def should_send_trying(self) -> bool:
        return self.state is State.PROCEEDING and self.last_response is None

    def send_response(self, response: SipMessage | SentResponse) -> list[Action]:
        status = _status(response)
        if self.state is State.ACCEPTED and 200 <= status < 300:
            return [Send(response)]  # 2xx retransmissions and forks relayed by the core
        if self.state is not State.PROCEEDING:
            return []
        self.last_response = response
        if status < 200:
            return [Send(response)]
        return [Send(response), *self._goto(State.ACCEPTED if status < 300 else State.COMPLETED)]

    def _on_ack(self, ack: SipMessage) -> list[Action]:
        if self.state is State.COMPLETED:
            return self._goto(State.CONFIRMED)
        if self.state is State.ACCEPTED:
            return [PassUp(ack)]
        return []

    def _enter(self, state: State) -> list[Action]:
        if state is State.COMPLETED:
            g = self._retransmit_timer(Timer.G, self.timers.t1)
            return [*g, self._start(Timer.H, self.timers.long)]
        if state is State.CONFIRMED:
            return self._wait(Timer.I, self.timers.t4)
        if state is State.ACCEPTED:
            return [self._start(Timer.L, self.timers.long)]
        return []

    def _release(self, state: State) -> None:
        # Completed keeps both: timer G resends last_response, and when timer H fires the adapter
        # answers for the request.  Accepted sends the core's 2xx as they come, and Confirmed only
        # absorbs ACKs: neither sends anything of its own again.
        if state in (State.ACCEPTED, State.CONFIRMED):
            self.request = None
            self.last_response = None

    def _timer_fired(self, timer: Timer, interval: float) -> list[Action]:
        if timer is Timer.G:
            assert self.last_response is not None
            return [Send(self.last_response), self._start(Timer.G, min(2 * interval, self.timers.t2))]
        if timer is Timer.H:
            return self._timeout()  # no ACK came
        return self._goto(State.TERMINATED)  # I, L


# -- client transactions ------------------------------------------------------------------


class ClientTransaction(Transaction[ClientTransactionKey]):
    """Common part of the client transactions: the request goes out, responses come in."""

    def __init__(self, key: ClientTransactionKey, request: SipMessage, **kwargs: Any) -> None:
        super().__init__(key, request, **kwargs)
        self._started = False
        self._seen_provisionals: set[int] | None = None  # fingerprints; made at the first 1xx

    def start(self) -> list[Action]:
        """Send the request and start the initial timers; call once."""
        if self._started:
            raise RuntimeError("transaction already started")
        self._started = True
        return [Send(self.request), *self._enter(self.state)]

    def _release(self, state: State) -> None:
        # a final response came: the request is never sent again (an INVITE's ACK is built
        # already), and later provisionals are ignored
        if state in (State.COMPLETED, State.ACCEPTED):
            self.request = None
            self._seen_provisionals = None

    def on_response(self, response: SipMessage) -> list[Action]:
        """A response matching this transaction arrived."""
        status = _status(response)
        if self.terminated or status < 100:
            return []
        if status < 200:
            return self._on_provisional(response)
        return self._on_final(response, status)

    def _on_provisional(self, response: SipMessage) -> list[Action]:
        raise NotImplementedError

    def _on_final(self, response: SipMessage, status: int) -> list[Action]:
        raise NotImplementedError

    def _pass_up_provisional(self, response: SipMessage) -> list[Action]:
        """PassUp once per distinct provisional; every copy of a reliable one (RFC 3262)."""
        if response.get("RSeq") is not None:
            return [PassUp(response)]
        fingerprint = message_fingerprint(response)
        seen = self._seen_provisionals
        if seen is None:
            seen = self._seen_provisionals = set()
        elif fingerprint in seen:
            return []
        if len(seen) < _MAX_REMEMBERED_PROVISIONALS:
            seen.add(fingerprint)
        return [PassUp(response)]


class InviteClientTransaction(ClientTransaction):
    """RFC 3261 17.1.1 with RFC 6026: Calling -> Proceeding -> Completed, or -> Accepted.

    With the proxy's timer C (16.6 step 11, 16.7 step 2, 16.8): it runs until a final response
    and restarts at every provisional but 100, so a next hop that rang and went silent cannot
    hold the call (and this transaction) forever. When it fires after a provisional, the core
    CANCELs the INVITE (SendCancel) and calls ``cancel()``; without a provisional, or when no
    final response follows the CANCEL within 64*T1 (9.1), the transaction times out (408).
    """

    _INITIAL = State.CALLING
    _TIMERS = {
        State.CALLING: frozenset({Timer.A, Timer.B, Timer.C}),
        State.PROCEEDING: frozenset({Timer.C}),
        State.COMPLETED: frozenset({Timer.D}),
        State.ACCEPTED: frozenset({Timer.M}),
    }

    def __init__(self, key: ClientTransactionKey, request: SipMessage, **kwargs: Any) -> None:
        super().__init__(key, request, **kwargs)
        self.ack: SipMessage | None = None  # the ACK built for a non-2xx final response
        self.cancelled = False  # a CANCEL went out for it: timer C only waits for the final

    def cancel(self) -> list[Action]:
        """A CANCEL for this INVITE was sent: wait 64*T1 more for its final response (9.1)."""
        if self.state not in (State.CALLING, State.PROCEEDING) or self.cancelled:
            return []
        self.cancelled = True
        return [self._start(Timer.C, self.timers.long)]

    def _on_provisional(self, response: SipMessage) -> list[Action]:
        if self.state not in (State.CALLING, State.PROCEEDING):
            return []
        ringing = response.status != 100 and not self.cancelled
        restart = [self._start(Timer.C, self.timers.c)] if ringing else []  # 16.7 step 2
        return [*self._pass_up_provisional(response), *restart, *self._goto(State.PROCEEDING)]

    def _on_final(self, response: SipMessage, status: int) -> list[Action]:
        waiting = self.state in (State.CALLING, State.PROCEEDING)
        if status < 300:
            if waiting:
                return [PassUp(response), *self._goto(State.ACCEPTED)]
            return [PassUp(response)] if self.state is State.ACCEPTED else []
        if waiting:
            self.ack = build_ack(self.request, response)
            return [PassUp(response), Send(self.ack), *self._goto(State.COMPLETED)]
        if self.state is State.COMPLETED and self.ack is not None:
            return [Send(self.ack)]  # a retransmitted final: ACK again, absorb it
        return []

    def _enter(self, state: State) -> list[Action]:
        if state is State.CALLING:
            a = self._retransmit_timer(Timer.A, self.timers.t1)
            return [*a, self._start(Timer.B, self.timers.long), self._start(Timer.C, self.timers.c)]
        if state is State.COMPLETED:
            return self._wait(Timer.D, self.timers.d)
        if state is State.ACCEPTED:
            return [self._start(Timer.M, self.timers.long)]
        return []

    def _timer_fired(self, timer: Timer, interval: float) -> list[Action]:
        if timer is Timer.A:
            return [Send(self.request), self._start(Timer.A, 2 * interval)]
        if timer is Timer.B:
            return self._timeout()
        if timer is Timer.C:
            # after a provisional the next hop is alive: CANCEL; else, as if it sent 408 (16.8)
            ringing = self.state is State.PROCEEDING and not self.cancelled
            return [SendCancel()] if ringing else self._timeout()
        return self._goto(State.TERMINATED)  # D, M


class NonInviteClientTransaction(ClientTransaction):
    """RFC 3261 17.1.2: Trying -> Proceeding -> Completed -(K)-> Terminated."""

    _INITIAL = State.TRYING
    _TIMERS = {
        State.TRYING: frozenset({Timer.E, Timer.F}),
        State.PROCEEDING: frozenset({Timer.E, Timer.F}),
        State.COMPLETED: frozenset({Timer.K}),
    }

    def _on_provisional(self, response: SipMessage) -> list[Action]:
        if self.state not in (State.TRYING, State.PROCEEDING):
            return []
        return [*self._pass_up_provisional(response), *self._goto(State.PROCEEDING)]

    def _on_final(self, response: SipMessage, status: int) -> list[Action]:
        if self.state not in (State.TRYING, State.PROCEEDING):
            return []  # retransmitted final: absorbed
        return [PassUp(response), *self._goto(State.COMPLETED)]

    def _enter(self, state: State) -> list[Action]:
        if state is State.TRYING:
            e = self._retransmit_timer(Timer.E, self.timers.t1)
            return [*e, self._start(Timer.F, self.timers.long)]
        if state is State.COMPLETED:
            return self._wait(Timer.K, self.timers.t4)
        return []

    def _timer_fired(self, timer: Timer, interval: float) -> list[Action]:
        if timer is Timer.E:
            t2 = self.timers.t2
            delay = t2 if self.state is State.PROCEEDING else min(2 * interval, t2)
            return [Send(self.request), self._start(Timer.E, delay)]
        if timer is Timer.F:
            return self._timeout()
        return self._goto(State.TERMINATED)  # K


# -- tables -------------------------------------------------------------------------------


class TableFull(Exception):
    """The table already holds ``max_size`` transactions: answer 503 Service Unavailable."""


class TransactionExists(ValueError):
    """A live transaction already has this key."""


Txn = TypeVar("Txn", ServerTransaction, ClientTransaction)


class _Table(Generic[Key, Txn]):
    """Transactions by key; each one removes itself when it reaches Terminated."""

    def __init__(
        self, max_size: int = DEFAULT_MAX_TRANSACTIONS, timers: TimerConfig = DEFAULT_TIMERS
    ) -> None:
        self.max_size = max_size
        self.timers = timers
        self._by_key: dict[Key, Txn] = {}
        self._on_terminated = self._discard  # one bound method for all, not one per transaction

    def __len__(self) -> int:
        return len(self._by_key)

    def __iter__(self) -> Iterator[Txn]:
        return iter(list(self._by_key.values()))

    def __contains__(self, key: object) -> bool:
        return key in self._by_key

    def get(self, key: Key) -> Txn | None:
        return self._by_key.get(key)

    def _add(self, cls: type[Txn], key: Key, request: SipMessage, reliable: bool, context: Any) -> Txn:
        if key in self._by_key:
            raise TransactionExists(key)
        if len(self._by_key) >= self.max_size:
            raise TableFull(f"{len(self._by_key)} transactions")
        txn = cls(
            key, request, reliable=reliable, timers=self.timers, context=context,
            on_terminated=self._on_terminated,
        )
        self._by_key[key] = txn
        return txn

    def _discard(self, txn: Transaction[Any]) -> None:
        if self._by_key.get(txn.key) is txn:
            del self._by_key[txn.key]


class ServerTransactionTable(_Table[ServerTransactionKey, ServerTransaction]):
    """Server transactions, keyed by (branch, sent-by, method) of the request's top Via."""

    def create(
        self, request: SipMessage, branch: str, sent_by: str, *, reliable: bool, context: Any = None
    ) -> ServerTransaction:
        """A new server transaction for ``request`` (not ACK); raises TableFull, TransactionExists."""
        method = (request.method or "").upper()
        if not method or method == "ACK":
            raise ValueError("only a request other than ACK creates a server transaction")
        key = ServerTransactionKey.for_request(branch, sent_by, method)
        cls = InviteServerTransaction if method == "INVITE" else NonInviteServerTransaction
        return self._add(cls, key, request, reliable, context)

    def match(self, branch: str, sent_by: str, method: str) -> ServerTransaction | None:
        """The transaction of a retransmitted request, or the INVITE one for an ACK."""
        try:
            return self.get(ServerTransactionKey.for_request(branch, sent_by, method))
        except ValueError:
            return None

    def find_invite_for_cancel(self, branch: str, sent_by: str) -> InviteServerTransaction | None:
        """The INVITE transaction a CANCEL (same top Via branch and sent-by) targets."""
        txn = self.match(branch, sent_by, "INVITE")
        return txn if isinstance(txn, InviteServerTransaction) else None


class ClientTransactionTable(_Table[ClientTransactionKey, ClientTransaction]):
    """Client transactions, keyed by (branch of the Via we added, method)."""

    def create(
        self, request: SipMessage, branch: str, *, reliable: bool, context: Any = None
    ) -> ClientTransaction:
        """A new client transaction for ``request`` (not ACK); call ``start()`` on it next."""
        method = (request.method or "").upper()
        if not method or method == "ACK":
            raise ValueError("only a request other than ACK creates a client transaction")
        key = ClientTransactionKey.for_request(branch, method)
        cls = InviteClientTransaction if method == "INVITE" else NonInviteClientTransaction
        return self._add(cls, key, request, reliable, context)

    def match(self, branch: str, cseq_method: str) -> ClientTransaction | None:
        """The transaction a response belongs to (its top Via branch and CSeq method)."""
        try:
            return self.get(ClientTransactionKey.for_response(branch, cseq_method))
        except ValueError:
            return None
