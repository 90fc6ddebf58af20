"""The RFC 3261 section 17 state machines, driven by a fake adapter on a virtual clock."""

from __future__ import annotations

import math

import pytest

from edgeport_lib.sip.message import Header, SentResponse, SipMessage
from edgeport_lib.sip.serializer import sent_response, serialize
from edgeport_lib.transactions import (
    CancelTimer,
    ClientTransactionKey,
    ClientTransactionTable,
    InviteClientTransaction,
    InviteServerTransaction,
    NonInviteClientTransaction,
    NonInviteServerTransaction,
    PassUp,
    Send,
    SendCancel,
    ServerTransactionKey,
    ServerTransactionTable,
    StartTimer,
    State,
    TableFull,
    Terminated,
    Timeout,
    Timer,
    TimerConfig,
    TransactionExists,
    TransportFailed,
    build_ack,
    is_rfc3261_branch,
)

BRANCH = "z9hG4bK-abc"
SENT_BY = "client.example.com:5060"
VIA = f"SIP/2.0/UDP {SENT_BY};branch={BRANCH}"


# -- message builders ---------------------------------------------------------------------


def request(method: str = "INVITE", cseq: int = 314, vias: list[str] | None = None, routes=()) -> SipMessage:
    headers = [Header("Via", v) for v in (vias or [VIA])]
    headers += [Header("Route", r) for r in routes]
    headers += [
        Header("Max-Forwards", "69"),
        Header("From", "Alice <sip:alice@example.com>;tag=a1"),
        Header("To", "Bob <sip:bob@example.com>"),
        Header("Call-ID", "call-1@example.com"),
        Header("CSeq", f"{cseq} {method}"),
        Header("Contact", "<sip:alice@10.0.0.1>"),
        Header("Content-Type", "application/sdp"),
        Header("Content-Length", "4"),
    ]
    return SipMessage(method=method, uri="sip:bob@example.com", headers=headers, body=b"v=0\n")


def response(status: int, req: SipMessage, to_tag: str = "b1", reason: str = "", **extra: str) -> SipMessage:
    headers = [Header("Via", v) for v in req.get_all("Via")]
    to = req.get("To") or ""
    headers += [
        Header("From", req.get("From") or ""),
        Header("To", f"{to};tag={to_tag}" if status > 100 else to),
        Header("Call-ID", req.call_id),
        Header("CSeq", req.get("CSeq") or ""),
    ]
    headers += [Header(name, value) for name, value in extra.items()]
    return SipMessage(status=status, reason=reason or str(status), headers=headers)


# -- a fake adapter -----------------------------------------------------------------------


class Sim:
    """Carries out actions on a virtual clock, like the gevent adapter would."""

    def __init__(self, txn) -> None:
        self.txn = txn
        self.now = 0.0
        self.timers: dict[str, float] = {}
        self.log: list[tuple[float, object]] = []

    def apply(self, actions: list) -> list:
        for action in actions:
            self.log.append((self.now, action))
            if isinstance(action, StartTimer):
                self.timers[action.name] = self.now + action.delay
            elif isinstance(action, CancelTimer):
                self.timers.pop(action.name, None)
            elif isinstance(action, Terminated):
                assert not self.timers, "every running timer is cancelled before Terminated"
        return actions

    def run(self, until: float = math.inf) -> None:
        """Fire due timers in order up to ``until``."""
        while self.timers:
            name, due = min(self.timers.items(), key=lambda item: item[1])
            if due > until:
                break
            del self.timers[name]
            self.now = due
            self.apply(self.txn.on_timer(name))
        if until != math.inf:
            self.now = max(self.now, until)

    def times(self, kind: type, message: SipMessage | None = None) -> list[float]:
        return [
            t
            for t, a in self.log
            if isinstance(a, kind) and (message is None or getattr(a, "message", None) is message)
        ]


def client(cls=InviteClientTransaction, method: str = "INVITE", reliable: bool = False, **kw):
    req = request(method)
    return cls(ClientTransactionKey.for_request(BRANCH, method), req, reliable=reliable, **kw)


def server(cls=InviteServerTransaction, method: str = "INVITE", reliable: bool = False, **kw):
    req = request(method)
    return cls(ServerTransactionKey.for_request(BRANCH, SENT_BY, method), req, reliable=reliable, **kw)


def passed_up(actions: list) -> list[SipMessage]:
    return [action.message for action in actions if isinstance(action, PassUp)]


def approx(values: list[float]) -> list[float]:
    return [round(v, 6) for v in values]


# -- keys ---------------------------------------------------------------------------------


def test_server_key_ack_matches_invite_and_cancel_is_its_own():
    invite = ServerTransactionKey.for_request(BRANCH, SENT_BY, "INVITE")
    assert ServerTransactionKey.for_request(BRANCH, SENT_BY, "ACK") == invite
    assert ServerTransactionKey.for_request(BRANCH, SENT_BY, "CANCEL") != invite
    assert ServerTransactionKey.for_request(BRANCH, " Client.Example.COM:5060", "invite") == invite
    assert ServerTransactionKey.for_request(BRANCH, "other:5060", "INVITE") != invite
    assert ServerTransactionKey.for_request(BRANCH.upper(), SENT_BY, "INVITE") != invite


def test_client_key_is_branch_and_cseq_method():
    key = ClientTransactionKey.for_request(BRANCH, "INVITE")
    assert key == ClientTransactionKey.for_response(BRANCH, "invite") == (BRANCH, "INVITE")
    assert ClientTransactionKey.for_response(BRANCH, "CANCEL") != key


def test_empty_branch_cannot_key_a_transaction():
    with pytest.raises(ValueError):
        ServerTransactionKey.for_request("", SENT_BY, "INVITE")
    with pytest.raises(ValueError):
        ClientTransactionKey.for_request("", "INVITE")
    assert is_rfc3261_branch(BRANCH) and not is_rfc3261_branch("1234")


# -- INVITE client ------------------------------------------------------------------------


def test_invite_client_start_sends_and_starts_a_and_b():
    txn = client()
    assert txn.state == "Calling"
    assert txn.start() == [
        Send(txn.request), StartTimer("A", 0.5), StartTimer("B", 32.0), StartTimer("C", 180.0)]
    with pytest.raises(RuntimeError):
        txn.start()


def test_invite_client_timer_a_doubles_until_timer_b_times_out():
    txn = client()
    sim = Sim(txn)
    sim.apply(txn.start())
    sim.run()
    assert approx(sim.times(Send)) == [0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
    starts = [a.delay for _, a in sim.log if isinstance(a, StartTimer) and a.name == Timer.A]
    assert starts == [0.5, 1, 2, 4, 8, 16, 32]  # no cap for A
    assert sim.times(Timeout) == [32.0]
    assert sim.log[-3:] == [(32.0, CancelTimer("A")), (32.0, CancelTimer("C")), (32.0, Terminated())]
    assert txn.state is State.TERMINATED and txn.running_timers == frozenset()


def test_invite_client_reliable_no_retransmission_b_still_times_out():
    txn = client(reliable=True)
    sim = Sim(txn)
    assert sim.apply(txn.start()) == [Send(txn.request), StartTimer("B", 32.0), StartTimer("C", 180.0)]
    sim.run()
    assert sim.times(Send) == [0.0]
    assert [a for _, a in sim.log[-3:]] == [Timeout(), CancelTimer("C"), Terminated()]


def test_invite_client_provisional_stops_retransmissions_and_timer_b():
    txn = client()
    sim = Sim(txn)
    sim.apply(txn.start())
    sim.run(until=1.0)
    ringing = response(180, txn.request)
    assert sim.apply(txn.on_response(ringing)) == [
        PassUp(ringing), StartTimer("C", 180.0), CancelTimer("A"), CancelTimer("B")]
    assert txn.state == "Proceeding"
    sim.run(until=100)
    assert approx(sim.times(Send)) == [0, 0.5]
    assert not sim.times(Timeout) and txn.state == "Proceeding"


# -- timer C: the proxy's wait for a final response (RFC 3261 16.6 step 11, 16.7 step 2, 16.8) --


def starts(actions: list) -> list[StartTimer]:
    return [action for action in actions if isinstance(action, StartTimer)]


def ringing_client() -> tuple[InviteClientTransaction, Sim]:
    txn = client()
    sim = Sim(txn)
    sim.apply(txn.start())
    sim.apply(txn.on_response(response(180, txn.request)))  # at 0: timer C due at 180
    return txn, sim


def test_timer_c_restarts_at_every_provisional_but_100():
    txn, sim = ringing_client()
    sim.run(until=100.0)
    assert starts(sim.apply(txn.on_response(response(100, txn.request)))) == []
    assert starts(sim.apply(txn.on_response(response(183, txn.request)))) == [StartTimer("C", 180.0)]
    sim.run(until=279.0)
    assert SendCancel() not in [action for _, action in sim.log]
    sim.run(until=280.0)
    assert sim.log[-1] == (280.0, SendCancel())


def test_timer_c_after_a_provisional_cancels_then_gives_up_without_a_final_response():
    txn, sim = ringing_client()
    sim.run(until=180.0)
    assert sim.log[-1] == (180.0, SendCancel())
    assert txn.state == "Proceeding" and txn.running_timers == frozenset()
    assert sim.apply(txn.cancel()) == [StartTimer("C", 32.0)]  # the core sent the CANCEL
    assert txn.cancel() == []
    late = response(180, txn.request, to_tag="late")
    assert starts(sim.apply(txn.on_response(late))) == []  # no longer restarts it
    sim.run()
    assert sim.times(Timeout) == [212.0] and txn.terminated


def test_a_cancelled_invite_still_takes_its_final_response():
    txn, sim = ringing_client()
    sim.apply(txn.cancel())
    terminated = response(487, txn.request)
    assert sim.apply(txn.on_response(terminated))[:3] == [PassUp(terminated), Send(txn.ack), CancelTimer("C")]
    assert txn.state == "Completed"


def test_timer_c_without_a_provisional_times_out_as_if_408():
    txn = client(reliable=True, timers=TimerConfig(c=10.0))  # shorter than timer B
    sim = Sim(txn)
    sim.apply(txn.start())
    sim.run()
    assert sim.times(Timeout) == [10.0] and SendCancel() not in [action for _, action in sim.log]


def test_provisionals_passed_up_once_per_distinct_response():
    txn = client()
    txn.start()
    ringing = response(180, txn.request)
    assert passed_up(txn.on_response(ringing)) == [ringing]
    assert passed_up(txn.on_response(response(180, txn.request))) == []  # retransmission: absorbed
    progress = response(183, txn.request)
    assert passed_up(txn.on_response(progress)) == [progress]
    forked = response(180, txn.request, to_tag="other")
    assert passed_up(txn.on_response(forked)) == [forked]
    trying = response(100, txn.request)
    assert txn.on_response(trying) == [PassUp(trying)]
    assert txn.on_response(response(100, txn.request)) == []


def test_reliable_provisional_retransmissions_are_all_passed_up():
    txn = client()
    txn.start()
    reliable = response(183, txn.request, RSeq="1", Require="100rel")
    assert passed_up(txn.on_response(reliable)) == [reliable]
    assert passed_up(txn.on_response(reliable)) == [reliable]


def test_invite_client_non2xx_generates_ack_and_timer_d():
    txn = client()
    req = txn.request  # the transaction lets go of it once finished
    sim = Sim(txn)
    sim.apply(txn.start())
    busy = response(486, req)
    actions = sim.apply(txn.on_response(busy))
    ack = txn.ack
    assert ack is not None
    assert actions == [PassUp(busy), Send(ack), CancelTimer("A"), CancelTimer("B"), CancelTimer("C"),
                       StartTimer("D", 32.0)]
    assert txn.state == "Completed"
    # a retransmitted final is absorbed and ACKed again
    sim.now = 5.0
    assert sim.apply(txn.on_response(response(486, req))) == [Send(ack)]
    assert sim.apply(txn.on_response(response(200, req))) == []
    sim.run()
    assert sim.log[-1] == (32.0, Terminated())
    assert len(sim.times(PassUp)) == 1


def test_invite_client_non2xx_after_provisional():
    txn = client()
    txn.start()
    txn.on_response(response(180, txn.request))
    actions = txn.on_response(response(603, txn.request))
    assert actions[1] == Send(txn.ack) and actions[-1] == StartTimer("D", 32.0)


def test_invite_client_timer_d_zero_on_reliable():
    txn = client(reliable=True)
    txn.start()
    busy = response(486, txn.request)
    assert txn.on_response(busy) == [
        PassUp(busy), Send(txn.ack), CancelTimer("B"), CancelTimer("C"), Terminated()]
    assert txn.terminated
    assert txn.on_response(busy) == []


def test_ack_for_non2xx_follows_rfc3261_17_1_1_3():
    req = request(
        cseq=4711,
        vias=[f"{VIA}, SIP/2.0/UDP upstream.example.com;branch=z9hG4bK-up", "SIP/2.0/TCP far;branch=x"],
        routes=["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>, <sip:p3.example.com;lr>"],
    )
    busy = response(486, req, to_tag="callee-tag")
    ack = build_ack(req, busy)
    assert ack.method == "ACK" and ack.uri == req.uri
    assert ack.get_all("Via") == [VIA]
    assert ack.cseq == (4711, "ACK")
    assert ack.get("To") == "Bob <sip:bob@example.com>;tag=callee-tag"
    assert ack.get("From") == req.get("From")
    assert ack.call_id == req.call_id
    assert ack.get_all("Route") == req.get_all("Route")
    assert ack.get("Max-Forwards") == "70"
    assert ack.body == b"" and ack.get("Content-Length") == "0"
    assert ack.get("Contact") is None and ack.get("Content-Type") is None


def test_invite_client_2xx_passed_up_every_time_no_ack():
    txn = client()
    req = txn.request  # the transaction lets go of it once finished
    sim = Sim(txn)
    sim.apply(txn.start())
    ok = response(200, req)
    assert sim.apply(txn.on_response(ok)) == [
        PassUp(ok),
        CancelTimer("A"),
        CancelTimer("B"),
        CancelTimer("C"),
        StartTimer("M", 32.0),
    ]
    assert txn.state == "Accepted" and txn.ack is None
    assert txn.on_response(ok) == [PassUp(ok)]  # retransmission relayed
    forked = response(200, req, to_tag="fork2")
    assert txn.on_response(forked) == [PassUp(forked)]
    assert txn.on_response(response(180, req)) == []
    assert txn.on_response(response(486, req)) == []
    sim.run()
    assert txn.terminated and sim.log[-1] == (32.0, Terminated())
    assert not any(isinstance(a, Send) and a.message.method == "ACK" for _, a in sim.log)


# -- non-INVITE client --------------------------------------------------------------------


def test_non_invite_client_timer_e_doubles_to_t2_then_f_times_out():
    txn = client(NonInviteClientTransaction, "OPTIONS")
    sim = Sim(txn)
    assert sim.apply(txn.start()) == [Send(txn.request), StartTimer("E", 0.5), StartTimer("F", 32.0)]
    sim.run()
    sends = approx(sim.times(Send))
    assert sends == [0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    intervals = [b - a for a, b in zip(sends, sends[1:], strict=False)]
    assert max(intervals) == 4.0  # capped at T2
    assert sim.times(Timeout) == [32.0] and txn.terminated


def test_non_invite_client_timer_e_becomes_t2_in_proceeding():
    txn = client(NonInviteClientTransaction, "REGISTER")
    sim = Sim(txn)
    sim.apply(txn.start())
    sim.run(until=0.6)  # E fired at 0.5, next in 1
    trying = response(100, txn.request)
    assert sim.apply(txn.on_response(trying)) == [PassUp(trying)]  # E and F keep running
    assert txn.state == "Proceeding"
    sim.run(until=10)
    assert approx(sim.times(Send)) == [0, 0.5, 1.5, 5.5, 9.5]
    ok = response(200, txn.request)
    assert sim.apply(txn.on_response(ok)) == [
        PassUp(ok),
        CancelTimer("E"),
        CancelTimer("F"),
        StartTimer("K", 5.0),
    ]
    assert txn.on_response(ok) == []  # retransmitted final absorbed
    sim.run()
    assert sim.log[-1] == (15.0, Terminated())


def test_non_invite_client_reliable_no_e_and_k_zero():
    txn = client(NonInviteClientTransaction, "BYE", reliable=True)
    assert txn.start() == [Send(txn.request), StartTimer("F", 32.0)]
    ok = response(200, txn.request)
    assert txn.on_response(ok) == [PassUp(ok), CancelTimer("F"), Terminated()]


def test_non_invite_client_reliable_times_out_with_f():
    txn = client(NonInviteClientTransaction, "BYE", reliable=True)
    sim = Sim(txn)
    sim.apply(txn.start())
    sim.run()
    assert sim.times(Send) == [0.0] and sim.times(Timeout) == [32.0]


# -- INVITE server ------------------------------------------------------------------------


def test_invite_server_trying_and_retransmitted_invite_resends_last_provisional():
    txn = server()
    assert txn.state == "Proceeding" and txn.should_send_trying
    assert txn.on_request(txn.request) == []  # nothing sent yet: absorbed
    trying = response(100, txn.request)
    assert txn.send_response(trying) == [Send(trying)]
    assert not txn.should_send_trying
    assert txn.on_request(txn.request) == [Send(trying)]
    ringing = response(180, txn.request)
    assert txn.send_response(ringing) == [Send(ringing)]
    assert txn.on_request(txn.request) == [Send(ringing)]
    assert txn.state == "Proceeding"


def test_invite_server_non2xx_timer_g_capped_then_h_times_out():
    txn = server()
    sim = Sim(txn)
    busy = response(486, txn.request)
    assert sim.apply(txn.send_response(busy)) == [Send(busy), StartTimer("G", 0.5), StartTimer("H", 32.0)]
    assert txn.state == "Completed"
    sim.run()
    sends = approx(sim.times(Send, busy))
    assert sends == [0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    g = [a.delay for _, a in sim.log if isinstance(a, StartTimer) and a.name == "G"]
    assert g[:5] == [0.5, 1, 2, 4, 4] and max(g) == 4
    assert sim.times(Timeout) == [32.0]
    assert [a for _, a in sim.log[-3:]] == [Timeout(), CancelTimer("G"), Terminated()]


def test_invite_server_retransmitted_invite_in_completed_resends_final():
    txn = server()
    busy = response(486, txn.request)
    txn.send_response(busy)
    assert txn.on_request(txn.request) == [Send(busy)]
    assert txn.send_response(response(500, txn.request)) == []  # a final is already sent


def test_invite_server_ack_confirms_and_timer_i():
    txn = server()
    req = txn.request  # the transaction lets go of it once finished
    sim = Sim(txn)
    sim.apply(txn.send_response(response(404, req)))
    sim.run(until=2)
    ack = build_ack(req, response(404, req))
    assert sim.apply(txn.on_request(ack)) == [CancelTimer("G"), CancelTimer("H"), StartTimer("I", 5.0)]
    assert txn.state == "Confirmed"
    assert txn.on_request(ack) == [] and txn.on_request(req) == []  # absorbed
    sim.run()
    assert sim.log[-1] == (7.0, Terminated()) and not sim.times(Timeout)


def test_invite_server_reliable_no_g_and_i_zero():
    txn = server(reliable=True)
    busy = response(486, txn.request)
    assert txn.send_response(busy) == [Send(busy), StartTimer("H", 32.0)]
    ack = build_ack(txn.request, busy)
    assert txn.on_request(ack) == [CancelTimer("H"), Terminated()]
    assert txn.terminated


def test_invite_server_reliable_h_times_out():
    txn = server(reliable=True)
    sim = Sim(txn)
    sim.apply(txn.send_response(response(486, txn.request)))
    sim.run()
    assert sim.times(Send) == [0.0] and sim.times(Timeout) == [32.0] and txn.terminated


def test_invite_server_2xx_accepted_relays_2xx_absorbs_invite():
    txn = server()
    req = txn.request  # the transaction lets go of it once finished
    sim = Sim(txn)
    ok = response(200, req)
    assert sim.apply(txn.send_response(ok)) == [Send(ok), StartTimer("L", 32.0)]
    assert txn.state == "Accepted"
    assert txn.send_response(ok) == [Send(ok)]  # 2xx retransmission from downstream
    assert txn.on_request(req) == []  # retransmitted INVITE absorbed, not a new request
    assert txn.send_response(response(486, req)) == []
    ack = SipMessage(method="ACK", uri=req.uri, headers=[Header("Via", VIA)])
    assert txn.on_request(ack) == [PassUp(ack)]
    sim.run()
    assert sim.log[-1] == (32.0, Terminated())


# -- non-INVITE server --------------------------------------------------------------------


def test_non_invite_server_states_and_timer_j():
    txn = server(NonInviteServerTransaction, "REGISTER")
    req = txn.request  # the transaction lets go of it once finished
    sim = Sim(txn)
    assert txn.state == "Trying" and not txn.should_send_trying
    assert txn.on_request(req) == []  # absorbed in Trying
    trying = response(100, req)
    assert sim.apply(txn.send_response(trying)) == [Send(trying)]
    assert txn.state == "Proceeding"
    assert txn.on_request(req) == [Send(trying)]
    ok = response(200, req)
    # sent as it is kept for retransmissions: serialized once
    assert sim.apply(txn.send_response(ok)) == [Send(sent_response(ok)), StartTimer("J", 32.0)]
    assert txn.state == "Completed"
    assert txn.on_request(req) == [Send(sent_response(ok))]
    assert txn.send_response(response(500, req)) == []
    sim.run()
    assert sim.log[-1] == (32.0, Terminated())
    assert txn.on_request(req) == []


def test_non_invite_server_reliable_j_zero():
    txn = server(NonInviteServerTransaction, "OPTIONS", reliable=True)
    ok = response(200, txn.request)
    assert txn.send_response(ok) == [Send(ok), Terminated()]
    assert txn.last_response is ok  # nothing to resend over a stream: no bytes were made


# -- what a finished transaction keeps ----------------------------------------------------
# A finished transaction waits out its last timer (up to 64*T1) to absorb retransmissions; it
# keeps only what that takes, and still answers them.


def test_non_invite_server_completed_keeps_only_its_final_response():
    txn = server(NonInviteServerTransaction, "BYE")
    req = txn.request
    trying = response(100, req)
    txn.send_response(trying)
    assert txn.request is req and txn.last_response is trying  # Proceeding: both kept
    ok = response(200, req)
    txn.send_response(ok)
    assert txn.state == "Completed"
    # kept as the bytes it sent: a retransmitted BYE still gets the same 200
    assert txn.request is None
    assert txn.last_response == SentResponse(200, "call-1@example.com", "BYE", serialize(ok))
    assert txn.on_request(req) == [Send(txn.last_response)]


def test_invite_server_accepted_keeps_neither_request_nor_response():
    txn = server()
    req = txn.request
    ringing = response(180, req)
    txn.send_response(ringing)
    assert txn.request is req and txn.last_response is ringing  # Proceeding: both kept
    ok = response(200, req)
    txn.send_response(ok)
    assert txn.state == "Accepted"
    assert txn.request is None and txn.last_response is None
    assert txn.on_request(req) == []  # a retransmitted INVITE is still absorbed
    forked = response(200, req, to_tag="fork2")
    assert txn.send_response(forked) == [Send(forked)]  # later 2xx from the core still go out
    ack = build_ack(req, ok)
    assert txn.on_request(ack) == [PassUp(ack)]  # and the ACK still goes up


def test_invite_server_completed_keeps_both_until_confirmed():
    txn = server()
    req = txn.request
    sim = Sim(txn)
    busy = response(486, req)
    sim.apply(txn.send_response(busy))
    sim.run(until=1)
    assert txn.request is req and txn.last_response is busy  # timer G resends it, H answers req
    assert txn.on_request(req) == [Send(busy)]
    assert sim.times(Send, busy) == [0.0, 0.5]
    assert sim.apply(txn.on_request(build_ack(req, busy)))[-1] == StartTimer("I", 5.0)
    assert txn.state == "Confirmed"
    assert txn.request is None and txn.last_response is None
    assert txn.on_request(req) == []  # absorbed


def test_invite_server_timed_out_by_h_still_has_its_request():
    txn = server()
    req = txn.request
    sim = Sim(txn)
    sim.apply(txn.send_response(response(486, req)))
    sim.run()
    assert sim.times(Timeout) == [32.0] and txn.terminated
    assert txn.request is req  # the adapter answers for it when it handles the Timeout


@pytest.mark.parametrize("status", [486, 603])
def test_invite_client_completed_keeps_only_its_ack(status):
    txn = client()
    req = txn.request
    sim = Sim(txn)
    sim.apply(txn.start())
    txn.on_response(response(180, req))
    assert txn.request is req  # Proceeding: timer A could still need it
    final = response(status, req)
    sim.apply(txn.on_response(final))
    assert txn.state == "Completed" and txn.ack is not None
    assert txn.request is None and txn._seen_provisionals is None
    assert txn.on_response(response(status, req)) == [Send(txn.ack)]  # retransmission: ACK again
    assert txn.on_response(response(180, req)) == []
    sim.run()
    assert sim.log[-1] == (32.0, Terminated())


def test_invite_client_accepted_keeps_nothing_and_passes_2xx_up():
    txn = client()
    req = txn.request
    txn.start()
    txn.on_response(response(180, req))
    ok = response(200, req)
    txn.on_response(ok)
    assert txn.state == "Accepted"
    assert txn.request is None and txn.ack is None and txn._seen_provisionals is None
    assert txn.on_response(ok) == [PassUp(ok)]  # 2xx retransmissions still relayed
    assert txn.on_response(response(180, req)) == []


def test_invite_client_keeps_its_request_while_it_retransmits_it():
    txn = client()
    sim = Sim(txn)
    sim.apply(txn.start())
    req = txn.request
    sim.run(until=1)
    assert sim.times(Send, req) == [0.0, 0.5]
    assert txn.request is req


def test_non_invite_client_completed_keeps_nothing_but_its_key():
    txn = client(NonInviteClientTransaction, "BYE")
    req = txn.request
    sim = Sim(txn)
    sim.apply(txn.start())
    ok = response(200, req)
    assert sim.apply(txn.on_response(ok))[0] == PassUp(ok)
    assert txn.state == "Completed" and txn.request is None
    assert txn.on_response(ok) == []  # a retransmitted final is still absorbed
    sim.run()
    assert sim.log[-1] == (5.0, Terminated())


def test_client_timed_out_still_has_its_request():
    txn = client(NonInviteClientTransaction, "OPTIONS")
    req = txn.request
    sim = Sim(txn)
    sim.apply(txn.start())
    sim.run()
    assert sim.times(Timeout) == [32.0] and txn.request is req  # the adapter answers 408 for it


# -- timers, errors, configuration --------------------------------------------------------


def test_stale_unknown_and_late_timers_are_ignored():
    txn = client()
    txn.start()
    txn.on_response(response(180, txn.request))  # cancels A and B
    assert txn.on_timer("A") == [] and txn.on_timer("B") == []
    assert txn.on_timer("Z") == [] and txn.on_timer("G") == []
    txn.on_response(response(486, txn.request))
    assert txn.on_timer(Timer.D) == [Terminated()]
    assert txn.on_timer(Timer.D) == []


def test_transport_error_terminates():
    txn = client()
    txn.start()
    assert txn.on_transport_error() == [
        TransportFailed(), CancelTimer("A"), CancelTimer("B"), CancelTimer("C"), Terminated()]
    assert txn.on_transport_error() == []
    srv = server(NonInviteServerTransaction, "OPTIONS")
    assert srv.on_transport_error() == [TransportFailed(), Terminated()]


def test_timer_values_are_configurable():
    timers = TimerConfig(t1=0.1, t2=0.4, t4=1.0, d=2.0)
    txn = client(NonInviteClientTransaction, "OPTIONS", timers=timers)
    sim = Sim(txn)
    assert sim.apply(txn.start())[1:] == [StartTimer("E", 0.1), StartTimer("F", 6.4)]
    sim.run()
    assert approx(sim.times(Send))[:6] == [0, 0.1, 0.3, 0.7, 1.1, 1.5]
    inv = client(timers=timers)
    inv.start()
    assert inv.on_response(response(486, inv.request))[-1] == StartTimer("D", 2.0)


def test_context_is_carried():
    marker = object()
    assert client(context=marker).context is marker


# -- tables -------------------------------------------------------------------------------


def test_server_table_create_match_and_cancel_is_separate():
    table = ServerTransactionTable()
    invite = table.create(request("INVITE"), BRANCH, SENT_BY, reliable=False, context="upstream")
    assert isinstance(invite, InviteServerTransaction) and invite.context == "upstream"
    assert table.match(BRANCH, SENT_BY, "INVITE") is invite
    assert table.match(BRANCH, SENT_BY, "ACK") is invite
    assert table.match(BRANCH, "elsewhere:5060", "INVITE") is None
    assert table.match("", SENT_BY, "INVITE") is None
    assert table.match(BRANCH, SENT_BY, "CANCEL") is None
    cancel = table.create(request("CANCEL"), BRANCH, SENT_BY, reliable=False)
    assert isinstance(cancel, NonInviteServerTransaction) and cancel is not invite
    assert table.match(BRANCH, SENT_BY, "CANCEL") is cancel
    assert table.find_invite_for_cancel(BRANCH, SENT_BY) is invite
    assert table.find_invite_for_cancel("z9hG4bK-other", SENT_BY) is None
    assert len(table) == 2
    cancel.send_response(response(200, cancel.request))
    invite.send_response(response(487, invite.request))
    assert len(table) == 2  # both wait in Completed
    cancel.on_timer("J")
    assert len(table) == 1 and table.find_invite_for_cancel(BRANCH, SENT_BY) is invite


def test_server_table_rejects_ack_and_duplicates():
    table = ServerTransactionTable()
    with pytest.raises(ValueError):
        table.create(request("ACK"), BRANCH, SENT_BY, reliable=False)
    with pytest.raises(ValueError):
        table.create(request("INVITE"), "", SENT_BY, reliable=False)
    table.create(request("INVITE"), BRANCH, SENT_BY, reliable=False)
    with pytest.raises(TransactionExists):
        table.create(request("INVITE"), BRANCH, SENT_BY, reliable=False)


def test_client_table_match_by_branch_and_cseq_method():
    table = ClientTransactionTable()
    invite = table.create(request("INVITE"), BRANCH, reliable=True)
    cancel = table.create(request("CANCEL"), BRANCH, reliable=True)
    assert isinstance(invite, InviteClientTransaction)
    assert isinstance(cancel, NonInviteClientTransaction)
    assert table.match(BRANCH, "INVITE") is invite
    assert table.match(BRANCH, "CANCEL") is cancel
    assert table.match("z9hG4bK-nope", "INVITE") is None and table.match("", "INVITE") is None
    cancel.start()
    invite.start()
    cancel.on_response(response(200, cancel.request))  # reliable: K is zero
    assert table.match(BRANCH, "CANCEL") is None and len(table) == 1
    with pytest.raises(ValueError):
        table.create(request("ACK"), "z9hG4bK-ack", reliable=True)


@pytest.mark.parametrize("table_cls", [ServerTransactionTable, ClientTransactionTable])
def test_table_max_size(table_cls):
    table = table_cls(max_size=3)

    def create(i: int):
        if table_cls is ServerTransactionTable:
            return table.create(request("OPTIONS"), f"z9hG4bK-{i}", SENT_BY, reliable=True)
        return table.create(request("OPTIONS"), f"z9hG4bK-{i}", reliable=True)

    txns = [create(i) for i in range(3)]
    with pytest.raises(TableFull):
        create(3)
    txns[0].on_transport_error()  # one ends: room again
    create(3)
    assert len(table) == 3


def test_no_leak_after_10000_transactions_driven_through_their_timers():
    servers = ServerTransactionTable()
    clients = ClientTransactionTable()
    sims: list[Sim] = []
    for i in range(10_000):
        branch = f"z9hG4bK-{i}"
        kind = i % 4
        if kind == 0:  # INVITE rejected, ACKed
            txn = servers.create(request("INVITE"), branch, SENT_BY, reliable=False)
            sim = Sim(txn)
            sim.apply(txn.send_response(response(100, txn.request)))
            sim.apply(txn.send_response(response(486, txn.request)))
            sim.apply(txn.on_request(build_ack(txn.request, response(486, txn.request))))
        elif kind == 1:  # non-INVITE answered
            txn = servers.create(request("OPTIONS"), branch, SENT_BY, reliable=False)
            sim = Sim(txn)
            sim.apply(txn.send_response(response(200, txn.request)))
        elif kind == 2:  # INVITE forwarded: 2xx or failure or timeout
            txn = clients.create(request("INVITE"), branch, reliable=False)
            sim = Sim(txn)
            sim.apply(txn.start())
            if i % 3:
                sim.apply(txn.on_response(response(200 if i % 3 == 1 else 503, txn.request)))
        else:  # non-INVITE forwarded, some time out
            txn = clients.create(request("MESSAGE"), branch, reliable=False)
            sim = Sim(txn)
            sim.apply(txn.start())
            if i % 5:
                sim.apply(txn.on_response(response(202, txn.request)))
        sims.append(sim)
    assert len(servers) == 5_000 and len(clients) == 5_000
    for sim in sims:
        sim.run()
        assert sim.txn.terminated and sim.txn.running_timers == frozenset()
    assert len(servers) == 0 and len(clients) == 0


def test_a_transaction_is_pending_until_its_final_response():
    invite = server()
    invite.send_response(response(180, invite.request))
    assert invite.pending
    invite.send_response(response(486, invite.request))
    assert not invite.pending  # Completed: only waits out timer H
    calling = client()
    calling.start()
    assert calling.pending
    calling.on_response(response(200, calling.request))
    assert not calling.pending  # Accepted
