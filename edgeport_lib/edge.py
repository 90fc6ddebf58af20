"""The edge core: what happens to each request and response (wire contract section 5).

Every received message runs in a greenlet of the bounded message pool. A request gets a server
transaction, is converted to a MessageRequest and given to the processor; its answer is either
a response (sent back on the server transaction) or a request to forward (sent through a client
transaction to the next hop). Responses from downstream go to the processor too, then back up on
the server transaction of their request. Transaction timers are scheduled on the gevent loop.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import gevent
from gevent import getcurrent
from gevent.lock import Semaphore

from . import routing
from .admission import ProcessorDelayGate
from .auth_on_behalf import CseqShifts, authenticated_retry, can_answer, parse_gateway_auth, with_cseq
from .config import Config
from .convert import (
    ABSENT,
    GATEWAY_AUTH,
    Converted,
    EdgeInfo,
    InvalidProcessorMessage,
    NetAddress,
    from_protobuf,
    local_response,
    message_request,
    to_protobuf,
)
from .events import payloads
from .events.bus import EventBus
from .ops.metrics import Metrics
from .processor_client import ProcessorClient, ProcessorUnavailable
from .protocol import processor_pb2
from .sip.digest import DigestError
from .sip.errors import SipParseError
from .sip.limits import Limits
from .sip.message import Header, SentResponse, SipMessage, message_fingerprint
from .sip.parser import parse_message
from .sip.responses import make_response
from .sip.serializer import sent_response, serialize
from .transactions import (
    CancelTimer,
    ClientTransaction,
    ClientTransactionTable,
    InviteClientTransaction,
    PassUp,
    Send,
    SendCancel,
    ServerTransaction,
    ServerTransactionTable,
    StartTimer,
    State,
    TableFull,
    Terminated,
    Timeout,
    Timer,
    TimerConfig,
    TransportFailed,
)
from .transports.base import Flow, SendError, Target
from .transports.network import Network

log = logging.getLogger(__name__)
KNOWN_METHODS = frozenset(processor_pb2.Method.keys()) - {"UNKNOWN"}


# Timers that only end their transaction (nothing is sent, nothing waits): they run in the hub's
# callback, without a greenlet of their own (four per call: L, M, J, K). The others may send,
# which may block on a connection, so each gets a greenlet.
_ENDING_TIMERS = frozenset({Timer.D, Timer.I, Timer.J, Timer.K, Timer.L, Timer.M})


def _out_of_dialog(request: SipMessage) -> bool:
    """No To-tag: a request that starts a dialog or stands alone (RFC 3261 12)."""
    return ";tag=" not in (request.get("To") or "")


def _cancellable(invite: ServerTransaction) -> bool:
    """Whether a CANCEL still ends this INVITE: it has no final response, neither sent to the
    caller nor received from the next hop (RFC 3261 9.2 and 16.10)."""
    if invite.state is not State.PROCEEDING:
        return False
    client = invite.context.client
    return client is None or client.terminated or client.request is not None


def _retry_after() -> Header:
    return Header("Retry-After", "5")


@dataclass(slots=True)
class ServerContext:
    flow: Flow
    reply_target: Target  # by the request's top Via: the same for every response
    client: ClientTransaction | None = None
    cancelled: bool = False
    timers: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class ClientContext:
    target: Target
    server: ServerTransaction | None
    credentials: tuple[str, str] | None = None  # from X-Gateway-Auth, for one challenge
    retried: bool = False  # already answered a challenge: a second one is relayed
    caller_cseq: int | None = None  # the caller's CSeq when the next hop counts differently
    timers: dict[str, Any] = field(default_factory=dict)
    last_flow: Flow | None = None  # of the response being handled (under relay_lock), for _pass_up
    sent_via: str | None = None  # the top Via we forwarded the request with, in Edge._sent_vias
    # the request as forwarded, while `credentials` may still answer a challenge to it: its
    # transaction drops its own copy as the final response comes, before passing that up
    challengeable: SipMessage | None = None
    # responses of one transaction are relayed one at a time, in arrival order: each waits for
    # its processor call, and a 486 must not overtake the 180 that came before it
    relay_lock: Semaphore = field(default_factory=Semaphore)
    # the 2xx to a forwarded INVITE, by fingerprint, as relayed: their copies go out again
    relayed_2xx: dict[int, SentResponse] | None = None


# Distinct 2xx of one INVITE remembered (a forking next hop sends one per branch); more are
# relayed through the processor every time, as before.
MAX_REMEMBERED_2XX = 8
# ACKs for 2xx remembered (~1 MB): those forwarded or copied last. A UAS sends its 2xx at most
# every 4 s (T2), so a call whose ACK keeps getting lost stays in even at 150 calls/s.
FORWARDED_ACKS_KEPT = 1024


class Edge:
    def __init__(
        self, config: Config, processor: ProcessorClient, network: Network, edge_info: EdgeInfo,
        metrics: Metrics | None = None, events: EventBus | None = None,
    ) -> None:
        self.config = config
        self.metrics = metrics or Metrics()
        self.events = events or EventBus()
        self.processor = processor
        self.network = network
        self.edge_info = edge_info
        self.limits = Limits(
            max_message_size=config.limits.max_message_size,
            max_headers=config.limits.max_headers,
            max_line_length=config.limits.max_line_length,
        )
        self.allowed_methods = frozenset(config.methods) & KNOWN_METHODS
        t1 = config.timers.t1
        # timer D is 32 s at the default T1; it scales with T1 like the other long timers
        timers = TimerConfig(t1=t1, t2=config.timers.t2, t4=config.timers.t4, d=64 * t1, c=config.timers.c)
        self.servers = ServerTransactionTable(max_size=config.limits.max_transactions, timers=timers)
        self.clients = ClientTransactionTable(max_size=config.limits.max_transactions, timers=timers)
        self.cseq_shifts = CseqShifts()
        # answered calls not yet ended -> the connections they run over; bounded, oldest first out
        self.active_calls: OrderedDict[str, tuple] = OrderedDict()
        self._calls_by_connection: dict[int, set[str]] = {}
        network.table.on_remove = self._connection_closed
        self.draining = False  # shutting down: no new calls, open ones may finish
        self._kept_reliable_183_logged = False
        # greenlet handling a message -> its processor time so far (a gevent.local costs more: a
        # dict and a weak reference per greenlet, and every message has a greenlet of its own)
        self._processor_time: dict[object, float] = {}
        self._loop = gevent.get_hub().loop
        self._bad_input_logged = 0
        self._table_full_count = 0
        self._overload_count = 0
        self.delay_gate = ProcessorDelayGate(config.limits.max_processor_delay)
        self._slow_refusals = 0
        # top Via text of each forwarded request -> its branch: the responses carry that text back,
        # and looking it up costs less than parsing it again (kept while its transaction lives)
        self._sent_vias: dict[str, str] = {}
        self._call_locks: dict[str, list] = {}  # Call-ID -> [lock, users]; see _on_request_in_call_order
        # the ACKs for 2xx forwarded lately, by fingerprint -> where and what went out (_forward_ack)
        self._forwarded_acks: OrderedDict[int, tuple[Target, bytes]] = OrderedDict()
        self._timer_fired = self._fire_timer  # one bound method for every timer, not one each

    # -- entry point --------------------------------------------------------------------------
    def handle(self, data: bytes | SipMessage, flow: Flow) -> None:
        """Handle one received message (a datagram or a frame of a stream), or one that
        on_overload parsed already."""
        started = time.perf_counter()
        me = getcurrent()
        self._processor_time[me] = 0.0
        try:
            self._handle(data, flow)
        finally:
            self.metrics.handling(time.perf_counter() - started - self._processor_time.pop(me, 0.0))

    def _handle(self, data: bytes | SipMessage, flow: Flow) -> None:
        if isinstance(data, SipMessage):
            msg = data
        elif not data.strip(b"\r\n"):
            return  # a CRLF keep-alive over UDP (RFC 5626): nothing to answer
        else:
            try:
                msg = parse_message(data, self.limits)
            except SipParseError as error:
                self.metrics.parse_error(flow.transport)
                self._on_bad_message(error, flow)
                return
        self.metrics.received(flow.transport, msg)
        try:
            if msg.is_request:
                self._on_request_in_call_order(msg, flow)
            else:
                self._on_response(msg, flow)
        except SipParseError as error:
            error.partial = error.partial or msg
            self._on_bad_message(error, flow)
        except Exception:  # a bug must cost one message, never the worker
            log.exception("internal error handling %s from %s:%s", _describe(msg), *flow.remote)
            if msg.is_request:
                self._reply_stateless(msg, flow, 500)

    def _on_request_in_call_order(self, msg: SipMessage, flow: Flow) -> None:
        """Requests of one call are handled one at a time, in arrival order.

        Every message runs in its own greenlet and a request waits for its processor call, so
        without this a BYE could overtake the ACK sent just before it (seen over TCP under load).
        Greenlets start in arrival order and take the lock before their first yield.
        """
        call_id = msg.call_id
        entry = self._call_locks.get(call_id)
        if entry is None:
            entry = self._call_locks[call_id] = [Semaphore(), 0]
        entry[1] += 1
        try:
            with entry[0]:
                self._on_request(msg, flow)
        finally:
            entry[1] -= 1
            if entry[1] == 0:
                del self._call_locks[call_id]

    def on_overload(self, data: bytes, flow: Flow) -> SipMessage | bytes | None:
        """Every worker greenlet is busy (spec.limits.maxInFlight). None when it answered `data`,
        else what `handle` gets when a greenlet is free: the parsed message, or `data` unparsed.

        A request that starts something new (no To-tag, not CANCEL, ACK or a retransmission of a
        request in progress) gets 503 + Retry-After at once. Anything else is part of work already
        accepted: over UDP it is dropped (the sender retransmits, and a retransmission of a request
        in progress is answered by its transaction); over a stream, which never retransmits, it
        waits for a free greenlet. Runs in the read loop, so it only parses and answers.
        """
        self._overload_count += 1
        if self._overload_count % 1000 == 1:
            log.warning("all %d message greenlets busy (spec.limits.maxInFlight): new requests get 503, "
                        "the rest is dropped over UDP and waits over streams; %d so far",
                        self.config.limits.max_in_flight, self._overload_count)
        try:
            msg = parse_message(data, self.limits) if data.strip(b"\r\n") else None
        except SipParseError:
            msg = None  # handled (400 or dropped) like any other bad message, later
        if msg is not None and self._starts_something_new(msg):
            self._reply_stateless(msg, flow, 503, headers=[_retry_after()])
            self.metrics.overload(flow.transport, "rejected")
            return None
        self.metrics.overload(flow.transport, "waited" if flow.reliable else "dropped")
        return data if msg is None else msg

    def _starts_something_new(self, msg: SipMessage) -> bool:
        """See on_overload."""
        try:
            return (msg.is_request and msg.method not in ("ACK", "CANCEL") and _out_of_dialog(msg)
                    and not self._in_progress(msg))
        except (SipParseError, ValueError, IndexError):
            return False

    def _in_progress(self, request: SipMessage) -> bool:
        via = routing.top_via(request)
        return self._server_for(request, via, routing.transaction_branch(request, via)) is not None

    def _server_for(self, request: SipMessage, via, branch: str) -> ServerTransaction | None:
        """The server transaction a request belongs to (a retransmission, or an ACK for it)."""
        return self.servers.match(branch, via.sent_by, request.method or "")

    def _on_bad_message(self, error: SipParseError, flow: Flow) -> None:
        partial = error.partial
        if error.can_reply and partial is not None:
            self._reply_stateless(partial, flow, 400, error.reason)
            return
        self._bad_input_logged += 1
        if self._bad_input_logged == 1 or self._bad_input_logged % 1000 == 0:
            log.warning("dropped unparseable message from %s:%s (%s); %d so far",
                        flow.remote[0], flow.remote[1], error.reason, self._bad_input_logged)

    # -- requests -------------------------------------------------------------------------------
    def _on_request(self, msg: SipMessage, flow: Flow) -> None:
        via = routing.stamp_received(msg, flow)
        branch = routing.transaction_branch(msg, via)
        method = msg.method or ""
        existing = self._server_for(msg, via, branch)
        if existing is not None:
            self.metrics.retransmission("received")
            self._run(existing, existing.on_request(msg))
            return
        if method == "ACK":
            self._forward_ack(msg, flow, via)
            return
        if not self._request_acceptable(msg, flow):
            return
        if method == "CANCEL":
            self._on_cancel(msg, flow, branch, via.sent_by)
            return
        if _out_of_dialog(msg) and (self.draining or self._processor_too_slow(flow)):
            self._reply_stateless(msg, flow, 503, headers=[_retry_after()])
            return
        try:
            context = ServerContext(flow, routing.reply_target(via))
            txn = self.servers.create(msg, branch, via.sent_by, reliable=flow.reliable, context=context)
        except TableFull:
            self._table_full("server")
            self._reply_stateless(msg, flow, 503, headers=[_retry_after()])
            return
        if txn.should_send_trying:
            self._run(txn, txn.send_response(make_response(msg, 100)))
        self._process_request(txn, msg, via, flow)

    def _processor_too_slow(self, flow: Flow) -> bool:
        """Whether the processor's recent answers were all slower than maxProcessorDelay; the
        first refusal of a burst and then one per 1,000 are logged."""
        gate = self.delay_gate
        if not gate.refusing(time.perf_counter()):
            return False
        self._slow_refusals += 1
        if self._slow_refusals % 1000 == 1:
            log.warning("processor answers slower than spec.limits.maxProcessorDelay (%g s; the last took "
                        "%.3f s): new requests get 503; %d refused so far",
                        gate.max_delay, gate.last_delay, self._slow_refusals)
        self.metrics.overload(flow.transport, "rejected_slow")
        return True

    def _table_full(self, which: str) -> None:
        """Log the first refusal of a burst and then one per 1,000 (never one per request)."""
        self._table_full_count += 1
        if self._table_full_count % 1000 == 1:
            limit = self.config.limits.max_transactions
            log.warning("%s transaction table full (spec.limits.maxTransactions %d): answering 503; "
                        "%d refused so far", which, limit, self._table_full_count)

    def _request_acceptable(self, msg: SipMessage, flow: Flow) -> bool:
        method = msg.method or ""
        if method not in self.allowed_methods:
            if self.config.unknown_method_action == "Respond":
                allow = Header("Allow", ", ".join(sorted(self.allowed_methods)))
                self._reply_stateless(msg, flow, 405, headers=[allow])
            return False
        max_forwards = msg.get("Max-Forwards")
        if max_forwards is not None and int(max_forwards) == 0:
            self._reply_stateless(msg, flow, 483)
            return False
        return True

    def _process_request(self, txn: ServerTransaction, msg: SipMessage, via, flow: Flow) -> None:
        context: ServerContext = txn.context
        converted = to_protobuf(msg)
        answer = self._ask_processor(self._message_request(converted, *routing.sender_of(via, flow), flow))
        if answer is None:
            self._respond(txn, 503)
            return
        if context.cancelled:
            return
        try:
            kind = answer.message.WhichOneof("message_type")
            if kind == "response_type":
                response = local_response(converted, answer.message)
                self._run(txn, txn.send_response(response))
                if msg.method == "REGISTER" and response.status == 200 and self.events.enabled:
                    self.events.publish(payloads.ENDPOINT_REGISTERED, payloads.endpoint_registered(msg))
            elif kind == "request_uri":
                self._forward(txn, converted, answer)
            else:
                raise InvalidProcessorMessage("processor message has neither request_uri nor response_type")
        except TableFull:
            self._table_full("client")
            self._run(txn, txn.send_response(make_response(msg, 503, headers=[_retry_after()])))
        except (InvalidProcessorMessage, SipParseError, ValueError) as error:
            log.error("processor answer for %s %s unusable: %s", msg.method, msg.call_id, error)
            self._respond(txn, 500)

    def _message_request(self, converted: Converted, host: str, port: int, flow: Flow):
        return message_request(converted, NetAddress(host, port, flow.transport), self.edge_info)

    def _ask_processor(self, request: processor_pb2.MessageRequest) -> processor_pb2.MessageResponse | None:
        started = time.perf_counter()
        error = None
        try:
            return self.processor.process(request)
        except ProcessorUnavailable as unavailable:
            error = unavailable
            return None
        finally:
            ended = time.perf_counter()
            elapsed = ended - started
            self.delay_gate.record(elapsed, ended)
            me = getcurrent()
            if me in self._processor_time:  # else a timer's greenlet: no message handling to time
                self._processor_time[me] += elapsed
            self.metrics.processor_call(elapsed, error)

    def _forward(self, txn: ServerTransaction, converted: Converted, answer) -> None:
        credentials = _gateway_credentials(answer)
        out = from_protobuf(answer.message, converted)
        via = routing.prepare_forwarded_via(out, self._listening_ports)
        target = routing.next_hop(out, via)
        context = ClientContext(target, txn, credentials, caller_cseq=self._shift_cseq(out),
                                challengeable=out if credentials else None)
        client = self.clients.create(out, via.branch or "", reliable=target.reliable, context=context)
        context.sent_via = out.top_via  # as it goes on the wire, and as responses bring it back
        self._sent_vias[context.sent_via] = client.key.branch
        txn.context.client = client
        if out.method == "INVITE" and self.events.enabled:
            self.events.publish(payloads.CALL_STARTED, payloads.call_started(out, dict(answer.metadata)))
        self._run(client, client.start())

    def _forward_ack(self, msg: SipMessage, flow: Flow, via) -> None:
        """ACK for a 2xx (end to end): ask the processor, forward statelessly, never answer.

        A UAC sends the same ACK again for every copy of the 2xx that reaches it (RFC 3261
        13.2.2.4), and copies come when ACKs are late, i.e. under load: a copy of an ACK
        forwarded lately goes where the first went, as it went, without asking the processor."""
        fingerprint = message_fingerprint(msg)
        forwarded = self._forwarded_acks.get(fingerprint)
        if forwarded is not None:
            self._forwarded_acks.move_to_end(fingerprint)
            self.metrics.retransmission("received")
            target, data = forwarded
            self._send(target, msg, data)
            return
        converted = to_protobuf(msg)
        answer = self._ask_processor(self._message_request(converted, *routing.sender_of(via, flow), flow))
        if answer is None or answer.message.WhichOneof("message_type") != "request_uri":
            return
        try:
            out = from_protobuf(answer.message, converted)
            via = routing.prepare_forwarded_via(out, self._listening_ports)
            self._shift_cseq(out)
            target = routing.next_hop(out, via)
            log.debug("forwarding ACK for %s to %s", msg.call_id, target)
            data = self._send_to(target, out)
        except (InvalidProcessorMessage, SipParseError, ValueError, SendError) as error:
            log.info("could not forward ACK for %s: %s", msg.call_id, error)
            return
        acks = self._forwarded_acks
        if len(acks) >= FORWARDED_ACKS_KEPT:
            acks.popitem(last=False)
        acks[fingerprint] = (target, data)

    def _on_cancel(self, msg: SipMessage, flow: Flow, branch: str, sent_by: str) -> None:
        invite = self.servers.find_invite_for_cancel(branch, sent_by)
        if invite is None:
            self._reply_stateless(msg, flow, 481)
            return
        self._reply_stateless(msg, flow, 200)
        if not _cancellable(invite):
            return  # the call goes on, or its final response ends it and publishes call.ended
        context: ServerContext = invite.context
        client = context.client
        context.cancelled = True
        self._call_ended(msg, payloads.CANCEL_STATUS)
        if client is None or client.terminated:
            self._respond(invite, 487)
            return
        self._cancel_downstream(client)

    def _cancel_downstream(self, client: InviteClientTransaction) -> None:
        """CANCEL a pending forwarded INVITE, hop by hop, where it went (RFC 3261 9.1, 16.10).
        Its transaction then waits 64*T1 for the final response, and times out without one."""
        cancel = _build_cancel(client.request)
        try:
            cancel_txn = self.clients.create(cancel, client.key.branch, reliable=client.reliable,
                                             context=ClientContext(client.context.target, None))
        except (TableFull, ValueError):
            pass  # the INVITE still times out
        else:
            self._run(cancel_txn, cancel_txn.start())
        self._run(client, client.cancel())

    # -- responses ------------------------------------------------------------------------------
    def _on_response(self, msg: SipMessage, flow: Flow) -> None:
        top_via = msg.top_via or ""
        branch = self._sent_vias.get(top_via)
        if branch is None:
            branch = routing.parse_via(top_via).branch or ""
        client = self.clients.match(branch, msg.cseq[1])
        if client is not None:
            with client.context.relay_lock:
                client.context.last_flow = flow
                self._run(client, client.on_response(msg))
                client.context.last_flow = None
        elif msg.status != 100:
            self._relay_response(msg, flow, None)

    def _relay_response(
        self, msg: SipMessage, flow: Flow, server: ServerTransaction | None
    ) -> SipMessage | None:
        """Relay `msg` as the processor answers; return what went out (None when nothing did)."""
        converted = to_protobuf(msg)
        answer = self._ask_processor(self._message_request(converted, *flow.remote, flow))
        if answer is None:
            log.info("dropped %s response for %s: processor unavailable", msg.status, msg.call_id)
            self._answer_unrelayed_final(msg, server, 503)
            return None
        try:
            out = from_protobuf(answer.message, converted)
        except InvalidProcessorMessage as error:
            log.error("processor answer for response %s of %s unusable: %s", msg.status, msg.call_id, error)
            self._answer_unrelayed_final(msg, server, 500)
            return None
        if out.status == 183 and self.config.strip_session_progress_sdp:
            self._strip_session_progress(out)
        if server is not None and not server.terminated:
            self._run(server, server.send_response(out))
        elif out.get("Via"):
            self._send(routing.response_target(out), out)
        cancelled = server is not None and server.context.cancelled
        if not cancelled:  # a cancelled call's call.ended went out with the CANCEL
            self._maybe_call_ended(out, server)
        return out

    def _relay_invite_2xx(self, context: ClientContext, response: SipMessage, flow: Flow) -> None:
        """A 2xx to a forwarded INVITE. Its UAS sends it again until the ACK comes (RFC 3261
        13.3.1.4): a copy goes out as the processor answered the first one, without asking again.
        Under load ACKs come late, and every copy would otherwise cost a processor call just when
        EdgePort and the processor are busiest."""
        server = context.server
        if server is None or server.terminated:
            self._relay_response(response, flow, server)
            return
        fingerprint = message_fingerprint(response)
        copies = context.relayed_2xx
        if copies is not None and fingerprint in copies:
            self.metrics.retransmission("received")
            self._run(server, server.send_response(copies[fingerprint]))
            return
        out = self._relay_response(response, flow, server)
        if out is None:
            return
        if copies is None:
            copies = context.relayed_2xx = {}
        if len(copies) < MAX_REMEMBERED_2XX:
            copies[fingerprint] = sent_response(out)

    def _answer_unrelayed_final(self, response: SipMessage, server: ServerTransaction | None,
                                status: int) -> None:
        """A final response that cannot be relayed: answer the caller `status` instead, or its
        transaction, in Proceeding without a timer, would wait forever."""
        if server is not None and (response.status or 0) >= 200:
            self._respond(server, status)

    def _strip_session_progress(self, response: SipMessage) -> None:
        """STRIP_SESSION_PROGRESS_SDP: drop a 183's SDP, unless it is reliable (RFC 3262)."""
        if not response.body:
            return
        if response.get("RSeq") is not None or "100rel" in (response.get("Require") or "").lower():
            if not self._kept_reliable_183_logged:
                self._kept_reliable_183_logged = True
                log.info("kept the SDP of a reliable 183 (Require: 100rel) for %s: stripping it would "
                         "break offer/answer; STRIP_SESSION_PROGRESS_SDP applies to unreliable 183s only",
                         response.call_id)
            return
        response.body = b""
        response.remove("Content-Type")

    def _maybe_call_ended(self, response: SipMessage, server: ServerTransaction | None = None) -> None:
        """call.ended for a relayed final answer to BYE, or a failure (> 300) of an INVITE."""
        method = response.cseq[1]
        status = response.status or 0
        if method == "INVITE" and 200 <= status < 300:
            self._call_answered(response.call_id, server)
        if (method == "BYE" and status >= 200) or (method == "INVITE" and status > 300):
            self._call_ended(response, status)
            self.cseq_shifts.forget(response)

    def _call_answered(self, call_id: str, server: ServerTransaction | None) -> None:
        """Remember an answered call and the connections it runs over (caller's, callee's)."""
        connections = self._call_connections(server)
        self._forget_call(call_id)
        self.active_calls[call_id] = connections
        for conn in connections:
            self._calls_by_connection.setdefault(id(conn), set()).add(call_id)
        while len(self.active_calls) > self.config.limits.max_transactions:
            self._forget_call(next(iter(self.active_calls)))

    def _call_connections(self, server: ServerTransaction | None) -> tuple:
        if server is None:
            return ()
        context: ServerContext = server.context
        found = [context.flow.connection]
        if context.client is not None:
            target = context.client.context.target
            found.append(self.network.table.get(target.transport, target.host, target.port))
        return tuple(conn for conn in found if conn is not None)

    def _forget_call(self, call_id: str) -> None:
        for conn in self.active_calls.pop(call_id, ()):
            calls = self._calls_by_connection.get(id(conn))
            if calls is not None:
                calls.discard(call_id)
                if not calls:
                    del self._calls_by_connection[id(conn)]

    def _connection_closed(self, conn) -> None:
        """A connection went away: the answered calls that ran over it have ended (contract 7)."""
        for call_id in list(self._calls_by_connection.get(id(conn), ())):
            self._forget_call(call_id)
            if self.events.enabled:
                self.events.publish(payloads.CALL_ENDED, payloads.call_connection_failed(call_id))

    @property
    def idle(self) -> bool:
        """No answered call waiting for its BYE and no transaction waiting for its final
        response. Finished transactions only absorb retransmissions for up to 32 s: waiting for
        them made every shutdown last the whole grace period."""
        return not self.active_calls and self.pending_transactions() == 0

    def pending_transactions(self) -> int:
        """Transactions still waiting for their final response."""
        return sum(txn.pending for txn in self.servers) + sum(txn.pending for txn in self.clients)

    def _call_ended(self, msg: SipMessage, status: int) -> None:
        self._forget_call(msg.call_id)
        if self.events.enabled:
            headers = payloads.extra_headers(msg)
            self.events.publish(payloads.CALL_ENDED, payloads.call_ended(msg.call_id, status, headers))

    # -- transaction actions --------------------------------------------------------------------
    def _run(self, txn: ServerTransaction | ClientTransaction, actions: list) -> None:
        for action in actions:
            if isinstance(action, Send):
                self._send_for(txn, action.message)
            elif isinstance(action, StartTimer):
                self._start_timer(txn, action.name, action.delay)
            elif isinstance(action, CancelTimer):
                timer = txn.context.timers.pop(action.name, None)
                if timer is not None:
                    timer.close()
            elif isinstance(action, PassUp):
                self._pass_up(txn, action.message)
            elif isinstance(action, Timeout):
                self._client_failed(txn, 408)
            elif isinstance(action, TransportFailed):
                self._client_failed(txn, 503)
            elif isinstance(action, SendCancel):
                log.info("no final response to INVITE %s %g s after its last provisional: cancelling it "
                         "(RFC 3261 timer C)", txn.request.call_id, self.clients.timers.c)
                self._cancel_downstream(txn)
            elif isinstance(action, Terminated):
                self._release(txn)

    def _release(self, txn) -> None:
        """Drop what a finished transaction holds: its timers, its link to the paired one, its Via.

        A server transaction and the client one it forwarded to point at each other; without
        this unlinking every call left a reference cycle for the slow full collections to find
        (a soak's RSS rose for minutes before they caught up). A server transaction may outlive
        its client one (a BYE's: timer J 32 s, K 5 s): it lets go of it then, as of a dead one.
        """
        for timer in txn.context.timers.values():
            timer.close()
        txn.context.timers.clear()
        if isinstance(txn, ServerTransaction):
            txn.context.client = None
        else:
            server, txn.context.server = txn.context.server, None
            if server is not None and server.context.client is txn:
                server.context.client = None
            if txn.context.sent_via is not None:
                self._sent_vias.pop(txn.context.sent_via, None)

    def _send_for(self, txn, message: SipMessage | SentResponse) -> None:
        if isinstance(txn, ServerTransaction):
            try:
                context: ServerContext = txn.context
                self._reply_on(context.flow, message, context.reply_target)
            except SendError as error:
                log.info("could not send %s response for %s: %s", message.status, message.call_id, error)
            return
        try:
            self._send_to(txn.context.target, message)
        except SendError as error:
            log.info("could not send %s to %s: %s", message.method, txn.context.target, error)
            self._run(txn, txn.on_transport_error())

    def _start_timer(self, txn, name: str, delay: float) -> None:
        old = txn.context.timers.pop(name, None)
        if old is not None:
            old.close()
        timer = self._loop.timer(delay)
        txn.context.timers[name] = timer
        if name in _ENDING_TIMERS:
            timer.start(self._timer_fired, txn, name)
        else:
            timer.start(gevent.spawn, self._timer_fired, txn, name)

    def _fire_timer(self, txn, name: str) -> None:
        timer = txn.context.timers.pop(name, None)
        if timer is not None:
            timer.close()
        actions = txn.on_timer(name)
        for action in actions:
            if isinstance(action, Send):
                self.metrics.retransmission("sent")
            elif isinstance(action, (Timeout, SendCancel)):
                self.metrics.timeout(name)
        self._run(txn, actions)

    def _pass_up(self, txn, message: SipMessage) -> None:
        if isinstance(txn, ServerTransaction):
            return  # an ACK matched an accepted INVITE: end to end, handled as a new request
        if message.status == 100:
            return  # we sent our own 100 Trying upstream
        context: ClientContext = txn.context
        request = context.challengeable
        if request is not None and (message.status or 0) >= 200:
            context.challengeable = None  # the one final response: no other challenge can come
            if not context.retried and can_answer(request, message):
                if self._answer_challenge(txn, request, message):
                    return
        if context.caller_cseq is not None:
            with_cseq(message, context.caller_cseq)
        flow = context.last_flow or Flow("UDP", ("", 0), 0)
        if isinstance(txn, InviteClientTransaction) and 200 <= (message.status or 0) < 300:
            self._relay_invite_2xx(context, message, flow)
        else:
            self._relay_response(message, flow, context.server)

    def _answer_challenge(self, txn: ClientTransaction, request: SipMessage, challenge: SipMessage) -> bool:
        """Send `request` again with the caller's credentials; False when we cannot."""
        context: ClientContext = txn.context
        user, password = context.credentials
        try:
            retry = authenticated_retry(request, challenge, user, password)
        except DigestError as error:
            log.info("relaying %s for %s: cannot answer it (%s)", challenge.status, challenge.call_id, error)
            return False
        caller_cseq = context.caller_cseq if context.caller_cseq is not None else request.cseq[0]
        branch = routing.parse_via(retry.values("Via")[0]).branch or ""
        retry_context = ClientContext(context.target, context.server, None, True, caller_cseq)
        try:
            client = self.clients.create(retry, branch, reliable=txn.reliable, context=retry_context)
        except TableFull:
            return False
        if context.server is not None:
            context.server.context.client = client
        if retry.method == "INVITE":
            self.cseq_shifts.add(retry)
        log.info("answering %s for %s %s on the caller's behalf", challenge.status, retry.method,
                 retry.call_id)
        self._run(client, client.start())
        return True

    def _shift_cseq(self, request: SipMessage) -> int | None:
        """Renumber an in-dialog request whose dialog had a challenge answered; the caller's CSeq."""
        shift = self.cseq_shifts.shift_for(request)
        if not shift:
            return None
        number = request.cseq[0]
        with_cseq(request, number + shift)
        return number

    def _client_failed(self, txn, status: int) -> None:
        server = getattr(txn.context, "server", None)
        cancelled = server is not None and server.context.cancelled
        if server is not None:  # a call the caller cancelled ends as cancelled, not as timed out
            self._respond(server, 487 if cancelled else status)
        # None once a final response came (an ACK could not be resent): relayed, it ended the call
        request = txn.request
        if request is not None and request.method == "INVITE" and not cancelled:
            self._call_ended(request, status)  # a cancelled call's call.ended went out with the CANCEL

    def _respond(self, txn: ServerTransaction, status: int) -> None:
        """Answer a server transaction locally, unless it already has a final response."""
        if txn.terminated or txn.state in ("Completed", "Confirmed", "Accepted", "Terminated"):
            return
        self._run(txn, txn.send_response(make_response(txn.request, status)))

    def _reply_stateless(self, msg: SipMessage, flow: Flow, status: int, reason: str | None = None,
                         headers: list[Header] | None = None) -> None:
        if msg.method == "ACK":
            return
        response = make_response(msg, status, reason, headers)
        try:
            self._reply_on(flow, response)
        except (SendError, SipParseError, ValueError, IndexError) as error:
            log.info("could not send %s to %s:%s: %s", status, flow.remote[0], flow.remote[1], error)

    def _send(self, target: Target, message: SipMessage, data: bytes | None = None) -> None:
        try:
            self._send_to(target, message, data)
        except SendError as error:
            log.info("could not send to %s: %s", target, error)

    # -- the two ways out: every sent message passes here ----------------------------------------
    def _send_to(self, target: Target, message: SipMessage, data: bytes | None = None) -> bytes:
        """Send to a next hop (reusing an open connection to it); return what was sent. Raises
        SendError. `data`: what `message` became when it was sent before (a copy goes out as is)."""
        if data is None:
            data = serialize(message)
        self.network.send(target, data)
        self.metrics.sent(target.transport, message)
        return data

    def _reply_on(self, flow: Flow, message: SipMessage | SentResponse, target: Target | None = None) -> None:
        """Send back on the flow a request came in on (its Via when that is gone). Raises SendError.

        `target` is the message's `routing.response_target`, when the caller has it already.
        """
        self.network.reply(flow, serialize(message), fallback=target or routing.response_target(message))
        self.metrics.sent(flow.transport, message)

    @cached_property
    def _listening_ports(self) -> dict[str, int]:
        """Port of each transport's listening point (fixed once the transports have started)."""
        ports = {}
        for transport in ("UDP", "TCP", "TLS", "WS", "WSS"):
            port = self.network.listening_port(transport)
            if port is not None:
                ports[transport] = port
        return ports


def _gateway_credentials(answer: processor_pb2.MessageResponse) -> tuple[str, str] | None:
    """Credentials the processor gave for answering challenges (GatewayAuthError when malformed)."""
    for ext in answer.message.extensions:
        if ext.name.lower() == GATEWAY_AUTH:
            return parse_gateway_auth(ext.value)
    return None


def _describe(msg: SipMessage) -> str:
    return f"{msg.method} {msg.call_id}" if msg.is_request else f"{msg.status} {msg.call_id}"


def _build_cancel(invite: SipMessage) -> SipMessage:
    """RFC 3261 9.1: the INVITE's Request-URI, Call-ID, From, To, CSeq number, top Via and Routes."""
    number, _ = invite.cseq
    headers = [Header("Via", invite.values("Via")[0])]
    headers += [Header("Route", r) for r in invite.values("Route")]
    headers += [Header("Max-Forwards", "70")]
    headers += [Header(name, invite.get(name) or "") for name in ("From", "To", "Call-ID")]
    headers.append(Header("CSeq", f"{number} CANCEL"))
    return SipMessage(method="CANCEL", uri=invite.uri, headers=headers)


__all__ = ["ABSENT", "GATEWAY_AUTH", "Edge"]
