"""Answering downstream 401/407 challenges for the caller (wire contract section 5). No I/O.

The processor puts `X-Gateway-Auth: base64(user:password)` on a forwarded request. EdgePort
keeps the credentials with the client transaction, and when the next hop challenges an INVITE,
MESSAGE or REGISTER it sends the request again with digest credentials, CSeq + 1 and a new
branch. The caller never sees the challenge, so from then on the two legs of the dialog count
CSeq differently; `CseqShifts` remembers the difference so the ACK, a CANCEL and later requests
of the caller carry the number the next hop expects, and responses carry the caller's.
"""

from __future__ import annotations

import base64
import binascii
from collections import OrderedDict

from .routing import new_branch, replace_top_via
from .sip.digest import authorization
from .sip.message import Header, SipMessage
from .sip.via import parse_via

RETRIED_METHODS = frozenset({"INVITE", "MESSAGE", "REGISTER"})
_ANSWER_HEADER = {
    401: ("WWW-Authenticate", "Authorization"),
    407: ("Proxy-Authenticate", "Proxy-Authorization"),
}


class GatewayAuthError(ValueError):
    """X-Gateway-Auth is not base64 of `user:password` (the value itself is never reported)."""


def parse_gateway_auth(value: str) -> tuple[str, str]:
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as error:
        raise GatewayAuthError("X-Gateway-Auth is not base64 UTF-8") from error
    user, colon, password = decoded.partition(":")
    if not colon or not user:
        raise GatewayAuthError("X-Gateway-Auth does not hold user:password")
    return user, password


def can_answer(request: SipMessage, response: SipMessage) -> bool:
    return request.method in RETRIED_METHODS and response.status in _ANSWER_HEADER


def authenticated_retry(request: SipMessage, challenge: SipMessage, user: str, password: str) -> SipMessage:
    """`request` again, answering `challenge` (a 401/407): CSeq + 1, a new branch, credentials.

    Raises DigestError when the challenge cannot be answered.
    """
    challenge_name, answer_name = _ANSWER_HEADER[challenge.status or 0]
    challenge_value = challenge.get(challenge_name) or ""
    number, method = request.cseq
    retry = SipMessage(method=request.method, uri=request.uri, body=request.body,
                       headers=[Header(h.name, h.value) for h in request.headers])
    retry.set("CSeq", f"{number + 1} {method}")
    retry.set(answer_name, authorization(challenge_value, method, request.uri or "", user, password))
    via = parse_via(retry.values("Via")[0])
    via.params["branch"] = new_branch()
    replace_top_via(retry, str(via))
    return retry


class CseqShifts:
    """How much the next hop's CSeq is ahead of the caller's, per dialog (Call-ID, caller tag).

    Bounded: the oldest dialogs are forgotten first (a BYE normally ends them sooner).
    """

    def __init__(self, max_dialogs: int = 100_000) -> None:
        self._shifts: OrderedDict[tuple[str, str], int] = OrderedDict()
        self._max = max_dialogs

    def __len__(self) -> int:
        return len(self._shifts)

    def add(self, request: SipMessage, shift: int = 1) -> None:
        key = _caller_key(request)
        self._shifts[key] = self._shifts.get(key, 0) + shift
        self._shifts.move_to_end(key)
        while len(self._shifts) > self._max:
            self._shifts.popitem(last=False)

    def shift_for(self, request: SipMessage) -> int:
        return self._shifts.get(_caller_key(request), 0) if self._shifts else 0

    def forget(self, msg: SipMessage) -> None:
        self._shifts.pop(_caller_key(msg), None)


def _caller_key(msg: SipMessage) -> tuple[str, str]:
    from_value = msg.get("From") or ""
    _, _, tag = from_value.partition(";tag=")
    return msg.call_id, tag.split(";")[0].strip()


def with_cseq(msg: SipMessage, number: int) -> None:
    msg.set("CSeq", f"{number} {msg.cseq[1]}")
