"""Focused unit tests of the SIP core: parser, serializer, framer, URIs, addresses, Vias, auth, responses."""

from __future__ import annotations

import pytest

from edgeport_lib.sip.address import parse_name_addr
from edgeport_lib.sip.auth import format_challenge, parse_challenge
from edgeport_lib.sip.errors import SipParseError
from edgeport_lib.sip.framer import KEEPALIVE, FramingError, StreamFramer
from edgeport_lib.sip.headers import canonical_name, is_list_header, split_list
from edgeport_lib.sip.limits import Limits
from edgeport_lib.sip.message import Header, SipMessage, message_fingerprint
from edgeport_lib.sip.params import format_params, parse_params
from edgeport_lib.sip.parser import parse_message
from edgeport_lib.sip.responses import add_to_tag, make_response
from edgeport_lib.sip.serializer import serialize
from edgeport_lib.sip.uri import AbsoluteUri, SipUri, bare_host, parse_hostport, parse_uri
from edgeport_lib.sip.via import parse_via

HEAD = (
    "INVITE sip:bob@example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK776asdhds\r\n"
    "Max-Forwards: 70\r\n"
    "From: Alice <sip:alice@example.org>;tag=1928301774\r\n"
    "To: Bob <sip:bob@example.com>\r\n"
    "Call-ID: a84b4c76e66710@pc33.example.org\r\n"
    "CSeq: 314159 INVITE\r\n"
)


def raw(
    extra: str = "", body: bytes = b"", content_length: int | str | None = None, head: str = HEAD
) -> bytes:
    text = head + extra
    if content_length is not None:
        text += f"Content-Length: {content_length}\r\n"
    return text.encode() + b"\r\n" + body


RESPONSE_HEAD = (
    "SIP/2.0 200 OK\r\n"
    "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK776asdhds;received=192.0.2.1\r\n"
    "From: Alice <sip:alice@example.org>;tag=1928301774\r\n"
    "To: Bob <sip:bob@example.com>;tag=a6c85cf\r\n"
    "Call-ID: a84b4c76e66710@pc33.example.org\r\n"
    "CSeq: 314159 INVITE\r\n"
)


# ==============================================================================================
# parser
# ==============================================================================================
class TestParserBasics:
    def test_request(self) -> None:
        msg = parse_message(raw(content_length=0))
        assert msg.is_request
        assert (msg.method, msg.uri, msg.version) == ("INVITE", "sip:bob@example.com", "SIP/2.0")
        assert [h.name for h in msg.headers] == [
            "Via",
            "Max-Forwards",
            "From",
            "To",
            "Call-ID",
            "CSeq",
            "Content-Length",
        ]
        assert msg.cseq == (314159, "INVITE")
        assert msg.call_id == "a84b4c76e66710@pc33.example.org"
        assert msg.body == b""

    def test_response(self) -> None:
        msg = parse_message(raw(head=RESPONSE_HEAD, content_length=0))
        assert not msg.is_request
        assert (msg.status, msg.reason, msg.method, msg.uri) == (200, "OK", None, None)

    def test_response_reason_with_spaces_and_empty_reason(self) -> None:
        head = RESPONSE_HEAD.replace("200 OK", "486 Busy   Here")
        assert parse_message(raw(head=head)).reason == "Busy   Here"
        head = RESPONSE_HEAD.replace("200 OK", "200")
        assert parse_message(raw(head=head)).reason == ""

    def test_folding_joins_continuation_lines_with_one_space(self) -> None:
        msg = parse_message(
            raw("Subject: I know you're there,\r\n   pick up the phone\r\n\tand talk to me!\r\n")
        )
        assert msg.get("Subject") == "I know you're there, pick up the phone and talk to me!"

    def test_folded_via_still_parses(self) -> None:
        head = HEAD.replace(
            "Via: SIP/2.0/UDP 10.0.0.1:5060;branch", "Via: SIP/2.0/UDP\r\n 10.0.0.1:5060\r\n ;branch"
        )
        msg = parse_message(raw(head=head))
        via = parse_via(msg.top_via)
        assert (via.host, via.port, via.branch) == ("10.0.0.1", 5060, "z9hG4bK776asdhds")

    def test_continuation_line_before_any_header(self) -> None:
        with pytest.raises(SipParseError, match="continuation"):
            parse_message(
                b"INVITE sip:b@x SIP/2.0\r\n folded: x\r\n" + raw()[len(HEAD.split("\r\n")[0]) + 2 :]
            )

    def test_compact_forms_are_expanded(self) -> None:
        data = (
            b"INVITE sip:bob@example.com SIP/2.0\r\n"
            b"v: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\r\n"
            b"f: <sip:a@x>;tag=1\r\nt: <sip:bob@example.com>\r\ni: c1\r\nCSeq: 1 INVITE\r\n"
            b"m: <sip:a@10.0.0.1>\r\nc: text/plain\r\nk: timer\r\ns: hi\r\ne: gzip\r\no: presence\r\n"
            b"r: <sip:c@x>\r\nu: talk\r\nx: 1800\r\ny: abc\r\nb: <sip:d@x>\r\nl: 3\r\n\r\nabcXYZ"
        )
        msg = parse_message(data)
        assert [h.name for h in msg.headers] == [
            "Via",
            "From",
            "To",
            "Call-ID",
            "CSeq",
            "Contact",
            "Content-Type",
            "Supported",
            "Subject",
            "Content-Encoding",
            "Event",
            "Refer-To",
            "Allow-Events",
            "Session-Expires",
            "Identity",
            "Referred-By",
            "Content-Length",
        ]
        assert msg.body == b"abc"
        assert msg.get("l") == msg.get("content-length") == "3"

    def test_header_names_are_canonicalised_values_kept(self) -> None:
        msg = parse_message(raw("cOnTaCt: <sip:A@X>\r\nx-custom-THING: Keep Me\r\n"))
        assert msg.headers[-2] == Header("Contact", "<sip:A@X>")
        assert msg.headers[-1] == Header("x-custom-THING", "Keep Me")  # unknown names as given
        assert msg.get("X-CUSTOM-thing") == "Keep Me"

    def test_whitespace_before_colon(self) -> None:
        msg = parse_message(raw("Subject \t : lunch\r\nX-Pad  :x\r\n"))
        assert msg.get("Subject") == "lunch"
        assert msg.get("X-Pad") == "x"

    def test_value_whitespace_is_trimmed(self) -> None:
        assert parse_message(raw("Subject:    spaced out   \r\n")).get("Subject") == "spaced out"
        assert parse_message(raw("X-Empty:\r\n")).get("X-Empty") == ""

    def test_one_crlf_before_the_start_line_is_ignored(self) -> None:
        assert parse_message(b"\r\n" + raw()).method == "INVITE"

    def test_several_crlfs_before_the_start_line_are_ignored(self) -> None:
        assert parse_message(b"\r\n\r\n\r\n" + raw()).method == "INVITE"

    def test_bare_lf_line_endings(self) -> None:
        data = raw(body=b"body", content_length=4).replace(b"\r\n", b"\n")
        msg = parse_message(data)
        assert msg.method == "INVITE" and msg.body == b"body"
        assert msg.get("CSeq") == "314159 INVITE"

    def test_non_utf8_header_bytes_survive_serialisation(self) -> None:
        msg = parse_message(raw("Subject: cafX\r\n").replace(b"cafX", b"caf\xe9"))
        assert b"Subject: caf\xe9\r\n" in serialize(msg)

    def test_utf8_header_value(self) -> None:
        assert (
            parse_message(raw("Subject: h\u00e9llo \u4e16\u754c\r\n")).get("Subject")
            == "h\u00e9llo \u4e16\u754c"
        )

    def test_multiple_header_lines_and_list_values(self) -> None:
        msg = parse_message(raw('Allow: INVITE, ACK\r\nAllow: BYE\r\nX-List: a, "b,c", <sip:d,e@x>\r\n'))
        assert msg.get_all("Allow") == ["INVITE, ACK", "BYE"]
        assert msg.values("Allow") == ["INVITE", "ACK", "BYE"]
        assert msg.values("X-List") == ["a", '"b,c"', "<sip:d,e@x>"]
        assert msg.count("allow") == 2


class TestParserRejects:
    @pytest.mark.parametrize(
        ("data", "match"),
        [
            (b"", "empty"),
            (b"\r\n", "empty"),
            (b"INVITE sip:b@x\r\n\r\n", "start line"),
            (b"INVITE  sip:b@x SIP/2.0\r\n\r\n", "start line"),
            (b"INV(ITE sip:b@x SIP/2.0\r\n\r\n", "method"),
            (b"INVITE sip:b@x SIP/3.0\r\n\r\n", "version"),
            (b"INVITE bob SIP/2.0\r\n\r\n", "scheme"),
            (b"SIP/2.0 99 Hm\r\n\r\n", "status"),
            (b"SIP/2.0 700 Hm\r\n\r\n", "status"),
            (b"SIP/2.0 20x OK\r\n\r\n", "status"),
            (b"SIP/1.0 200 OK\r\n\r\n", "version"),
            (b"INVITE sip:b@x SIP/2.0\x00\r\n\r\n", "NUL"),
        ],
    )
    def test_bad_start_lines(self, data: bytes, match: str) -> None:
        with pytest.raises(SipParseError, match=match) as info:
            parse_message(data)
        assert not info.value.can_reply

    @pytest.mark.parametrize(
        ("edit", "match"),
        [
            (("Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK776asdhds\r\n", ""), "missing Via"),
            (("Call-ID: a84b4c76e66710@pc33.example.org\r\n", ""), "missing Call-ID"),
            (("CSeq: 314159 INVITE\r\n", ""), "missing CSeq"),
            (("From: Alice", "From: Alice\r\nFrom: X"), "duplicated From"),
            (("To: Bob", "t: Carol <sip:c@x>\r\nTo: Bob"), "duplicated To"),
            (("Call-ID: a84b4c76e66710@pc33.example.org", "Call-ID:   "), "empty Call-ID"),
            (("CSeq: 314159 INVITE", "CSeq: 314159 BYE"), "CSeq method"),
            (("CSeq: 314159 INVITE", "CSeq: x INVITE"), "malformed CSeq"),
            (("CSeq: 314159 INVITE", "CSeq: 314159"), "malformed CSeq"),
            (("CSeq: 314159 INVITE", "CSeq: 2147483648 INVITE"), "malformed CSeq"),
            (("Max-Forwards: 70", "Max-Forwards: 256"), "Max-Forwards"),
            (("Max-Forwards: 70", "Max-Forwards: -1"), "Max-Forwards"),
            (("Max-Forwards: 70", "Bad Name: 1"), "malformed header"),
            (("Max-Forwards: 70", "NoColonHere"), "malformed header"),
            (("Max-Forwards: 70", ": empty name"), "malformed header"),
        ],
    )
    def test_bad_headers(self, edit: tuple[str, str], match: str) -> None:
        with pytest.raises(SipParseError, match=match) as info:
            parse_message(raw(head=HEAD.replace(*edit)))
        assert info.value.partial is not None and info.value.partial.method == "INVITE"


class TestContentLength:
    def test_absent_takes_the_rest(self) -> None:
        assert parse_message(raw(body=b"v=0\r\nrest\r\n\r\nmore")).body == b"v=0\r\nrest\r\n\r\nmore"

    def test_exact(self) -> None:
        assert parse_message(raw(body=b"hello", content_length=5)).body == b"hello"

    def test_smaller_cuts_the_body(self) -> None:
        assert parse_message(raw(body=b"hello world", content_length=5)).body == b"hello"

    def test_zero_with_trailing_bytes(self) -> None:
        assert parse_message(raw(body=b"junk", content_length=0)).body == b""

    def test_larger_is_an_error_that_can_be_answered(self) -> None:
        with pytest.raises(SipParseError, match="Content-Length") as info:
            parse_message(raw(body=b"hello", content_length=6))
        assert info.value.can_reply

    def test_compact_form_counts(self) -> None:
        assert parse_message(raw("l: 2\r\n", body=b"hello")).body == b"he"

    @pytest.mark.parametrize("value", ["x", "-1", "5 5", "0x5", "+5", ""])
    def test_malformed(self, value: str) -> None:
        with pytest.raises(SipParseError, match="Content-Length"):
            parse_message(raw(body=b"hello", content_length=value))

    def test_duplicates_agreeing_are_fine_disagreeing_are_not(self) -> None:
        assert parse_message(raw("Content-Length: 3\r\n", body=b"hello", content_length=3)).body == b"hel"
        with pytest.raises(SipParseError, match="Content-Length"):
            parse_message(raw("Content-Length: 3\r\n", body=b"hello", content_length=4))

    def test_serializer_recomputes_content_length_in_place(self) -> None:
        msg = parse_message(raw("Content-Length: 5\r\nX-After: 1\r\nl: 5\r\n", body=b"hello"))
        msg.body = b"hi"
        out = serialize(msg)
        assert out.count(b"Content-Length") == 1 and b"\r\nl:" not in out
        assert out.endswith(b"CSeq: 314159 INVITE\r\nContent-Length: 2\r\nX-After: 1\r\n\r\nhi")

    def test_serializer_adds_content_length_when_missing(self) -> None:
        msg = parse_message(raw(body=b"abc"))
        assert serialize(msg).endswith(b"\r\nContent-Length: 3\r\n\r\nabc")


class TestLimits:
    def test_message_size(self) -> None:
        data = raw(body=b"x" * 2000)
        with pytest.raises(SipParseError, match="too large") as info:
            parse_message(data, Limits(max_message_size=len(data) - 1))
        assert info.value.partial is None
        assert parse_message(data, Limits(max_message_size=len(data))).body == b"x" * 2000

    def test_default_message_size_is_64k(self) -> None:
        with pytest.raises(SipParseError, match="too large"):
            parse_message(raw(body=b"x" * 65536))
        assert len(parse_message(raw(body=b"x" * 65536), Limits(max_message_size=80_000)).body) == 65536

    def test_header_count(self) -> None:
        limits = Limits(max_headers=10)
        assert len(parse_message(raw("X-A: 1\r\n" * 4), limits).headers) == 10  # 6 + 4
        with pytest.raises(SipParseError, match="too many headers") as info:
            parse_message(raw("X-A: 1\r\n" * 5), limits)
        assert info.value.can_reply  # the mandatory headers came first

    def test_default_header_count(self) -> None:
        with pytest.raises(SipParseError, match="too many headers"):
            parse_message(raw("X-A: 1\r\n" * 200))

    def test_header_line_length(self) -> None:
        limits = Limits(max_line_length=100)
        assert parse_message(raw("X-A: " + "a" * 95 + "\r\n"), limits).get("X-A") == "a" * 95
        with pytest.raises(SipParseError, match="too long"):
            parse_message(raw("X-A: " + "a" * 96 + "\r\n"), limits)

    def test_start_line_length(self) -> None:
        long_head = HEAD.replace("sip:bob@example.com SIP", "sip:" + "b" * 200 + "@example.com SIP")
        with pytest.raises(SipParseError, match="start line too long"):
            parse_message(raw(head=long_head), Limits(max_line_length=100))

    def test_folded_line_is_limited_per_physical_line(self) -> None:
        # each physical line is short; the limit is on lines, the size limit on the whole
        folded = "X-A: a\r\n" + " b\r\n" * 50
        assert parse_message(raw(folded), Limits(max_line_length=100)).get("X-A") == "a" + " b" * 50


class TestCanReply:
    def test_true_for_a_request_with_all_reply_headers(self) -> None:
        with pytest.raises(SipParseError) as info:
            parse_message(raw(head=HEAD.replace("Max-Forwards: 70", "Max-Forwards: x")))
        assert info.value.can_reply

    def test_false_without_partial(self) -> None:
        assert not SipParseError("x").can_reply

    def test_false_for_ack(self) -> None:
        head = HEAD.replace("INVITE", "ACK").replace("Max-Forwards: 70", "Max-Forwards: x")
        with pytest.raises(SipParseError) as info:
            parse_message(raw(head=head))
        assert info.value.partial.method == "ACK" and not info.value.can_reply

    def test_false_for_a_response(self) -> None:
        with pytest.raises(SipParseError) as info:
            parse_message(raw(head=RESPONSE_HEAD, body=b"x", content_length=9))
        assert info.value.partial.status == 200 and not info.value.can_reply

    @pytest.mark.parametrize(
        "edit",
        [
            ("Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK776asdhds\r\n", ""),
            ("CSeq: 314159 INVITE\r\n", ""),
            ("From: Alice", "From: Alice\r\nFrom: X"),
            ("Call-ID: a84b4c76e66710@pc33.example.org", "Call-ID: a\r\nCall-ID: b"),
        ],
    )
    def test_false_without_exactly_the_reply_headers(self, edit: tuple[str, str]) -> None:
        with pytest.raises(SipParseError) as info:
            parse_message(raw(head=HEAD.replace(*edit)))
        assert info.value.partial is not None and not info.value.can_reply

    def test_false_when_the_limit_hit_before_the_mandatory_headers(self) -> None:
        head = HEAD.replace("Max-Forwards: 70\r\n", "X-A: 1\r\n" * 5)
        with pytest.raises(SipParseError, match="too many") as info:
            parse_message(raw(head=head), Limits(max_headers=4))
        assert not info.value.can_reply


class TestUnicodeAndHugeNumbers:
    """Every bad input must be a SipParseError; str.isdigit() accepts more than int() does."""

    @pytest.mark.parametrize(
        "data",
        [
            raw(content_length="\u00b2"),
            raw(content_length="1" * 5000),
            raw(head=HEAD.replace("CSeq: 314159", "CSeq: 3\u00b9")),
            raw(head=HEAD.replace("CSeq: 314159", "CSeq: " + "1" * 5000)),
            raw(head=HEAD.replace("Max-Forwards: 70", "Max-Forwards: \u2460")),
            raw(head=HEAD.replace("Max-Forwards: 70", "Max-Forwards: " + "0" * 5000)),
            raw(head=RESPONSE_HEAD.replace("200", "\u00b2\u00b2\u00b2")),
        ],
        ids=[
            "cl-superscript",
            "cl-5000-digits",
            "cseq-superscript",
            "cseq-5000-digits",
            "maxfwd-circled",
            "maxfwd-5000-digits",
            "status-superscript",
        ],
    )
    def test_parse_raises_only_sip_parse_error(self, data: bytes) -> None:
        with pytest.raises(SipParseError):
            parse_message(data)

    def test_decimal_digits_of_other_scripts_are_accepted_or_rejected_cleanly(self) -> None:
        data = raw(body=b"hello", content_length="\u0665")  # ARABIC-INDIC DIGIT FIVE
        try:
            assert parse_message(data).body == b"hello"
        except SipParseError:
            pass  # rejecting it is fine too; anything else is not


# ==============================================================================================
# URIs, params, hostports
# ==============================================================================================
class TestUri:
    def test_full_sip_uri(self) -> None:
        uri = parse_uri(
            "sip:alice:secret@atlanta.example.com:5070;transport=tcp;lr;maddr=239.255.255.1?subject=x"
        )
        assert uri == SipUri(
            scheme="sip",
            user="alice",
            password="secret",
            host="atlanta.example.com",
            port=5070,
            params={"transport": "tcp", "lr": None, "maddr": "239.255.255.1"},
            headers="subject=x",
        )
        assert (
            str(uri)
            == "sip:alice:secret@atlanta.example.com:5070;transport=tcp;lr;maddr=239.255.255.1?subject=x"
        )

    def test_sips(self) -> None:
        uri = parse_uri("SIPS:bob@biloxi.example.com")
        assert uri.scheme == "sips" and uri.secure and uri.host == "biloxi.example.com" and uri.port is None

    def test_no_user(self) -> None:
        uri = parse_uri("sip:proxy.example.com;lr")
        assert uri.user is None and uri.password is None and uri.params == {"lr": None}

    def test_user_with_at_and_escapes_uses_the_last_at(self) -> None:
        uri = parse_uri("sip:a%40b@x.example.com")
        assert (uri.user, uri.host) == ("a%40b", "x.example.com")

    def test_ipv6(self) -> None:
        uri = parse_uri("sip:alice@[2001:db8::10]:5062;transport=udp")
        assert (uri.host, uri.port) == ("[2001:db8::10]", 5062)
        assert bare_host(uri.host) == "2001:db8::10"
        assert str(uri) == "sip:alice@[2001:db8::10]:5062;transport=udp"
        assert parse_uri("sip:[::1]").host == "[::1]"

    def test_tel_and_other_schemes_are_opaque(self) -> None:
        uri = parse_uri("tel:+1-201-555-0123;phone-context=example.com")
        assert uri == AbsoluteUri("tel", "+1-201-555-0123;phone-context=example.com")
        assert str(uri) == "tel:+1-201-555-0123;phone-context=example.com"
        assert parse_uri("urn:service:sos") == AbsoluteUri("urn", "service:sos")

    def test_quoted_param_value_with_semicolon(self) -> None:
        uri = parse_uri('sip:a@x;p="a;b";lr')
        assert uri.params == {"p": '"a;b"', "lr": None}
        assert str(uri) == 'sip:a@x;p="a;b";lr'

    @pytest.mark.parametrize(
        "text",
        [
            "sip:",
            "sip:a@",
            "bob",
            ":x",
            "sip:host:0",
            "sip:host:65536",
            "sip:host:abc",
            "sip:host:",
            "sip:[::1",
            "sip:[::1]x",
            "sip:<x>",
        ],
    )
    def test_bad(self, text: str) -> None:
        with pytest.raises(SipParseError):
            parse_uri(text)

    def test_hostport(self) -> None:
        assert parse_hostport("example.com") == ("example.com", None)
        assert parse_hostport(" example.com:5060 ") == ("example.com", 5060)
        assert parse_hostport("[2001:db8::1]:5061") == ("[2001:db8::1]", 5061)
        assert parse_hostport("[2001:db8::1]") == ("[2001:db8::1]", None)
        assert parse_hostport("10.0.0.1:65535") == ("10.0.0.1", 65535)


class TestParams:
    def test_parse_and_format(self) -> None:
        params = parse_params('Transport=TCP; lr ;x="a;b=c";q=0.5')
        assert params == {"transport": "TCP", "lr": None, "x": '"a;b=c"', "q": "0.5"}
        assert format_params(params) == ';transport=TCP;lr;x="a;b=c";q=0.5'

    def test_escaped_quote_inside_quoted_value(self) -> None:
        assert parse_params(r'x="a\";b";y=1') == {"x": r'"a\";b"', "y": "1"}

    def test_empty(self) -> None:
        assert parse_params("") == {} and parse_params(" ; ;") == {}
        assert format_params({}) == ""


# ==============================================================================================
# name-addr / addr-spec
# ==============================================================================================
class TestNameAddr:
    def test_quoted_display_name_with_lt_and_comma(self) -> None:
        na = parse_name_addr('"Smith, John <sales>" <sip:john@example.com;transport=tcp>;tag=88sja8x')
        assert na.display_name == '"Smith, John <sales>"'
        assert na.display_text == "Smith, John <sales>"
        assert na.uri == SipUri(user="john", host="example.com", params={"transport": "tcp"})
        assert na.params == {"tag": "88sja8x"} and na.tag == "88sja8x"

    def test_quoted_display_name_with_escapes(self) -> None:
        na = parse_name_addr(r'"Al \"the pal\" \\ x" <sip:al@x>')
        assert na.display_text == 'Al "the pal" \\ x'

    def test_token_display_name(self) -> None:
        na = parse_name_addr("Bob Smith <sip:bob@x>;tag=2")
        assert (na.display_name, na.display_text, na.tag) == ("Bob Smith", "Bob Smith", "2")

    def test_addr_spec_params_become_header_params(self) -> None:
        na = parse_name_addr("sip:alice@atlanta.example.com;tag=1234;expires=60")
        assert na.uri == SipUri(user="alice", host="atlanta.example.com")
        assert na.params == {"tag": "1234", "expires": "60"}

    def test_uri_params_inside_brackets_stay_on_the_uri(self) -> None:
        na = parse_name_addr("<sip:alice@x;lr;transport=udp>;expires=60;q=0.7")
        assert na.uri.params == {"lr": None, "transport": "udp"}
        assert na.params == {"expires": "60", "q": "0.7"}

    def test_quoted_header_param_with_semicolon(self) -> None:
        na = parse_name_addr('<sip:a@x>;+sip.instance="<urn:uuid:1;2>";reg-id=1')
        assert na.params == {"+sip.instance": '"<urn:uuid:1;2>"', "reg-id": "1"}

    def test_wildcard(self) -> None:
        na = parse_name_addr(" * ")
        assert na.wildcard and na.uri is None and str(na) == "*"

    def test_tel_uri(self) -> None:
        na = parse_name_addr("<tel:+15551234;phone-context=x>;tag=9")
        assert na.uri == AbsoluteUri("tel", "+15551234;phone-context=x") and na.tag == "9"

    def test_str(self) -> None:
        text = '"Alice" <sip:alice@x:5060;lr>;tag=1;foo'
        assert str(parse_name_addr(text)) == text

    @pytest.mark.parametrize(
        "text", ['"unclosed <sip:a@x>', "<sip:a@x", "<sip:a@x> junk", "<>", "Bob <nope>"]
    )
    def test_bad(self, text: str) -> None:
        with pytest.raises(SipParseError):
            parse_name_addr(text)


# ==============================================================================================
# Via
# ==============================================================================================
class TestVia:
    def test_spaces_around_slashes(self) -> None:
        via = parse_via("SIP / 2.0 / udp   10.0.0.1:5060 ;branch=z9hG4bK1 ; rport")
        assert (via.protocol, via.transport, via.host, via.port) == ("SIP/2.0", "UDP", "10.0.0.1", 5060)
        assert via.params == {"branch": "z9hG4bK1", "rport": None}
        assert via.branch == "z9hG4bK1"

    def test_rport_and_received(self) -> None:
        via = parse_via(
            "SIP/2.0/TCP client.example.com:5060;branch=z9hG4bK2;rport=61000;received=203.0.113.5"
        )
        assert via.params["rport"] == "61000" and via.params["received"] == "203.0.113.5"
        assert (
            str(via) == "SIP/2.0/TCP client.example.com:5060;branch=z9hG4bK2;rport=61000;received=203.0.113.5"
        )

    def test_bare_rport(self) -> None:
        assert parse_via("SIP/2.0/UDP h;rport;branch=z9hG4bK3").params == {
            "rport": None,
            "branch": "z9hG4bK3",
        }

    def test_ipv6_sent_by(self) -> None:
        via = parse_via("SIP/2.0/TLS [2001:db8::9]:5061;branch=z9hG4bK4")
        assert (via.transport, via.host, via.port, via.sent_by) == (
            "TLS",
            "[2001:db8::9]",
            5061,
            "[2001:db8::9]:5061",
        )

    def test_no_port(self) -> None:
        via = parse_via("SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bK5")
        assert (via.transport, via.host, via.port) == ("WSS", "df7jal23ls0d.invalid", None)

    def test_trailing_comment_is_dropped(self) -> None:
        via = parse_via("SIP/2.0/UDP host.example.com;branch=z9hG4bK6 (a comment)")
        assert via.params == {"branch": "z9hG4bK6"}

    def test_paren_inside_quoted_param_is_not_a_comment(self) -> None:
        via = parse_via('SIP/2.0/UDP host;x="(y)";branch=z9hG4bK7')
        assert via.params == {"x": '"(y)"', "branch": "z9hG4bK7"}

    def test_list_header_is_split_before_parsing(self) -> None:
        msg = parse_message(
            raw(
                head=HEAD.replace(
                    "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK776asdhds",
                    "Via: SIP/2.0/UDP p1:5060;branch=z9hG4bKa, SIP/2.0/TCP p2;branch=z9hG4bKb\r\n"
                    "v: SIP/2.0/UDP p3",
                )
            )
        )
        assert [parse_via(v).host for v in msg.values("Via")] == ["p1", "p2", "p3"]
        assert msg.top_via == "SIP/2.0/UDP p1:5060;branch=z9hG4bKa"

    @pytest.mark.parametrize(
        "text", ["", "SIP/2.0 host", "SIP/2.0/UDP", "SIP/2.0/UDP host:99999", "SIP/2.0/UDP [::1"]
    )
    def test_bad(self, text: str) -> None:
        with pytest.raises(SipParseError):
            parse_via(text)


# ==============================================================================================
# headers module
# ==============================================================================================
class TestHeaders:
    def test_canonical_names(self) -> None:
        assert canonical_name("CALL-id") == "Call-ID" and canonical_name("i") == "Call-ID"
        assert canonical_name("WWW-authenticate") == "WWW-Authenticate"
        assert canonical_name("X-Foo") == "X-Foo"

    def test_split_list(self) -> None:
        assert split_list('a, "b, c", <sip:x,y@z>;p=1 ,d') == ["a", '"b, c"', "<sip:x,y@z>;p=1", "d"]
        assert split_list(r'"a\", b", c') == [r'"a\", b"', "c"]
        assert split_list("single") == ["single"]

    def test_is_list_header(self) -> None:
        assert is_list_header("Allow", "INVITE")
        assert not is_list_header("Date", "Sat, 13 Nov 2010 23:29:00 GMT")
        assert not is_list_header("Content-Type", 'multipart/mixed; boundary="a,b"')
        assert is_list_header("X-Thing", "a, b")
        assert not is_list_header("X-Thing", '"a, b"')


# ==============================================================================================
# digest auth
# ==============================================================================================
class TestAuth:
    def test_parse_challenge(self) -> None:
        scheme, params = parse_challenge(
            'Digest realm="atlanta.example.com", domain="sip:ss1.example.com",'
            ' qop="auth,auth-int", nonce="f84f1cec41e6cbe5aea9c8e88d359", opaque="", stale=FALSE,'
            " algorithm=MD5"
        )
        assert scheme == "Digest"
        assert params == {
            "realm": "atlanta.example.com",
            "domain": "sip:ss1.example.com",
            "qop": "auth,auth-int",
            "nonce": "f84f1cec41e6cbe5aea9c8e88d359",
            "opaque": "",
            "stale": "FALSE",
            "algorithm": "MD5",
        }

    def test_parse_credentials_with_nc(self) -> None:
        scheme, params = parse_challenge(
            'Digest username="bob", realm="biloxi.example.com", nonce="dcd98b",'
            ' uri="sip:bob@biloxi.example.com",'
            ' qop=auth, nc=0000000a, cnonce="0a4f113b", response="6629fae4", opaque="5ccc069c"'
        )
        assert scheme == "Digest"
        assert params["nc"] == "0000000a" and params["cnonce"] == "0a4f113b" and params["qop"] == "auth"
        assert params["uri"] == "sip:bob@biloxi.example.com"

    def test_quoted_comma_and_escaped_quote(self) -> None:
        _, params = parse_challenge(r'Digest realm="a, \"b\"", nonce=x')
        assert params == {"realm": 'a, "b"', "nonce": "x"}

    def test_escaped_backslash(self) -> None:
        _, params = parse_challenge(r'Digest realm="a\\b"')
        assert params["realm"] == "a\\b"

    def test_format_challenge(self) -> None:
        text = format_challenge("Digest", [("realm", 'x"y', True), ("algorithm", "MD5", False)])
        assert text == r'Digest realm="x\"y", algorithm=MD5'
        assert format_challenge("", [("nonce", "n", True)]) == 'Digest nonce="n"'
        assert parse_challenge(text) == ("Digest", {"realm": 'x"y', "algorithm": "MD5"})


# ==============================================================================================
# local responses
# ==============================================================================================
class TestMakeResponse:
    REQUEST = (
        HEAD
        + "Contact: <sip:alice@10.0.0.1>\r\nRecord-Route: <sip:p1;lr>\r\n"
        + "v: SIP/2.0/UDP second;branch=z9hG4bK9\r\n"
    )

    def request(self, head: str | None = None) -> SipMessage:
        return parse_message(raw(head=head or self.REQUEST, body=b"v=0\r\n"))

    def test_copies_vias_from_to_call_id_cseq_in_order(self) -> None:
        response = make_response(self.request(), 486, to_tag="xyz")
        assert (response.status, response.reason, response.is_request) == (486, "Busy Here", False)
        assert [(h.name, h.value) for h in response.headers] == [
            ("Via", "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK776asdhds"),
            ("From", "Alice <sip:alice@example.org>;tag=1928301774"),
            ("To", "Bob <sip:bob@example.com>;tag=xyz"),
            ("Call-ID", "a84b4c76e66710@pc33.example.org"),
            ("CSeq", "314159 INVITE"),
            ("Via", "SIP/2.0/UDP second;branch=z9hG4bK9"),
        ]
        assert response.body == b""

    def test_adds_a_random_to_tag(self) -> None:
        a = make_response(self.request(), 404)
        b = make_response(self.request(), 404)
        tag_a = parse_name_addr(a.get("To")).tag
        assert tag_a and tag_a != parse_name_addr(b.get("To")).tag

    def test_no_tag_on_100(self) -> None:
        response = make_response(self.request(), 100)
        assert response.get("To") == "Bob <sip:bob@example.com>"
        assert response.reason == "Trying"

    def test_existing_tag_is_kept(self) -> None:
        head = self.REQUEST.replace(
            "To: Bob <sip:bob@example.com>", "To: Bob <sip:bob@example.com> ; tag = abc"
        )
        assert (
            make_response(self.request(head), 200, to_tag="new").get("To")
            == "Bob <sip:bob@example.com> ; tag = abc"
        )
        head = self.REQUEST.replace("To: Bob <sip:bob@example.com>", "To: <sip:bob@example.com>;TAG=abc")
        assert (
            make_response(self.request(head), 200, to_tag="new").get("To") == "<sip:bob@example.com>;TAG=abc"
        )

    def test_request_is_not_modified(self) -> None:
        request = self.request()
        make_response(request, 200)
        assert request.get("To") == "Bob <sip:bob@example.com>"

    def test_reason_and_extra_headers(self) -> None:
        extra = [Header("Retry-After", "30"), Header("Warning", '399 edge "busy"')]
        response = make_response(self.request(), 503, reason="Overloaded", headers=extra, to_tag="t")
        assert response.reason == "Overloaded"
        assert response.headers[-2:] == extra
        assert make_response(self.request(), 599).reason == "Server Internal Error"  # class phrase

    def test_serialises_and_parses(self) -> None:
        response = make_response(self.request(), 180, to_tag="r1")
        again = parse_message(serialize(response))
        assert again.status == 180 and again.reason == "Ringing"
        assert parse_name_addr(again.get("To")).tag == "r1"
        assert again.get("Content-Length") == "0"

    @pytest.mark.parametrize("to", ['"x;tag=y" <sip:bob@example.com>', "<sip:bob@example.com;tag=uri>"])
    def test_tag_inside_display_name_or_uri_is_not_a_header_tag(self, to: str) -> None:
        assert parse_name_addr(add_to_tag(to, "new")).tag == "new"

    def test_add_to_tag_addr_spec(self) -> None:
        assert add_to_tag("sip:bob@example.com", "t") == "sip:bob@example.com;tag=t"
        assert parse_name_addr(add_to_tag("sip:bob@example.com", "t")).tag == "t"


# ==============================================================================================
# stream framer
# ==============================================================================================
def _stream_message(body: bytes = b"", call_id: str = "c1") -> bytes:
    return raw(
        head=HEAD.replace("a84b4c76e66710@pc33.example.org", call_id), body=body, content_length=len(body)
    )


class TestFramer:
    def test_one_message(self) -> None:
        msg = _stream_message(b"hello")
        assert StreamFramer().feed(msg) == [msg]

    def test_byte_by_byte(self) -> None:
        msg = _stream_message(b"v=0\r\n\r\nx")
        framer = StreamFramer()
        out = []
        for i in range(len(msg)):
            out += framer.feed(msg[i : i + 1])
            assert framer.buffered == (0 if out else i + 1)
        assert out == [msg]

    def test_split_read_in_the_head_and_in_the_body(self) -> None:
        msg = _stream_message(b"0123456789")
        framer = StreamFramer()
        assert framer.feed(msg[:20]) == []
        assert framer.feed(msg[20:-5]) == []
        assert framer.buffered == len(msg) - 5
        assert framer.feed(msg[-5:]) == [msg]
        assert framer.buffered == 0

    def test_split_inside_the_blank_line(self) -> None:
        msg = _stream_message(b"abc")
        cut = msg.index(b"\r\n\r\n") + 2
        framer = StreamFramer()
        assert framer.feed(msg[:cut]) == []
        assert framer.feed(msg[cut:]) == [msg]

    def test_several_messages_in_one_read(self) -> None:
        a, b, c = _stream_message(b"one", "a"), _stream_message(b"", "b"), _stream_message(b"three", "c")
        framer = StreamFramer()
        assert framer.feed(a + b + c[:10]) == [a, b]
        assert framer.feed(c[10:]) == [c]
        assert [parse_message(m).call_id for m in (a, b, c)] == ["a", "b", "c"]

    def test_double_crlf_is_a_keepalive(self) -> None:
        msg = _stream_message()
        framer = StreamFramer()
        assert framer.feed(b"\r\n\r\n") == [KEEPALIVE]
        assert framer.feed(b"\r\n\r\n" + msg + b"\r\n\r\n\r\n\r\n") == [KEEPALIVE, msg, KEEPALIVE, KEEPALIVE]
        assert framer.buffered == 0

    def test_keepalive_in_two_halves(self) -> None:
        framer = StreamFramer()
        assert framer.feed(b"\r\n") == []
        assert framer.feed(b"\r\n") == [KEEPALIVE]

    def test_keepalive_split_after_three_bytes(self) -> None:
        framer = StreamFramer()
        assert framer.feed(b"\r\n\r") + framer.feed(b"\n") == [KEEPALIVE]

    def test_keepalive_split_after_one_byte(self) -> None:
        framer = StreamFramer()
        assert framer.feed(b"\r") + framer.feed(b"\n\r\n") == [KEEPALIVE]

    def test_lone_crlf_is_ignored(self) -> None:
        msg = _stream_message(b"x")
        framer = StreamFramer()
        assert framer.feed(b"\r\n" + msg + b"\r\n") == [msg]
        assert framer.buffered == 2  # may still be the first half of a ping
        assert framer.feed(msg) == [msg]
        assert framer.buffered == 0

    def test_compact_and_odd_content_length(self) -> None:
        msg = raw(head=HEAD, body=b"abcd", content_length=None).replace(b"CSeq", b"l :  4\r\nCSeq")
        assert StreamFramer().feed(msg + b"tail") == [msg]

    @pytest.mark.parametrize("name", ["CONTENT-LENGTH", "Content-length", "L", "l\t"])
    def test_content_length_name_in_any_case(self, name: str) -> None:
        header = f"{name}: 4\r\n".encode()
        msg = raw(head=HEAD, body=b"abcd", content_length=None).replace(b"CSeq", header + b"CSeq")
        assert StreamFramer().feed(msg + b"tail") == [msg]

    def test_missing_content_length_means_empty_body(self) -> None:
        msg = raw()
        assert StreamFramer().feed(msg + b"OPTIONS") == [msg]

    def test_framed_message_parses(self) -> None:
        body = b"v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\n"
        (frame,) = StreamFramer().feed(_stream_message(body) + b"\r\n")
        assert parse_message(frame).body == body

    def test_oversized_head_without_end(self) -> None:
        framer = StreamFramer(Limits(max_message_size=100))
        assert framer.feed(b"X" * 100) == []
        with pytest.raises(FramingError, match="head"):
            framer.feed(b"X")

    def test_content_length_beyond_the_limit_fails_before_the_body(self) -> None:
        head = raw(content_length=1000)
        framer = StreamFramer(Limits(max_message_size=len(head) + 999))
        with pytest.raises(FramingError, match="exceeds"):
            framer.feed(head)  # no body bytes sent at all

    def test_content_length_at_the_limit_is_fine(self) -> None:
        msg = _stream_message(b"x" * 100)
        framer = StreamFramer(Limits(max_message_size=len(msg)))
        assert framer.feed(msg[:-100]) == []
        assert framer.feed(msg[-100:]) == [msg]

    def test_huge_content_length_on_default_limits(self) -> None:
        with pytest.raises(FramingError):
            StreamFramer().feed(raw(content_length=10**12))

    @pytest.mark.parametrize("value", ["x", "-1", "1 2"])
    def test_malformed_content_length(self, value: str) -> None:
        with pytest.raises(FramingError, match="Content-Length"):
            StreamFramer().feed(raw(content_length=value))

    def test_conflicting_content_lengths(self) -> None:
        with pytest.raises(FramingError, match="Content-Length"):
            StreamFramer().feed(raw("l: 3\r\n", content_length=4, body=b"abcd"))

    def test_content_length_with_thousands_of_digits(self) -> None:
        with pytest.raises(FramingError):
            StreamFramer().feed(raw(content_length="9" * 5000))

    def test_framing_error_is_a_sip_parse_error(self) -> None:
        assert issubclass(FramingError, SipParseError)


# ==============================================================================================
# fingerprints: a copy of a message (a retransmission) is recognised, anything else is not
# ==============================================================================================
@pytest.mark.parametrize("head", [HEAD, RESPONSE_HEAD], ids=["request", "response"])
def test_a_copy_has_the_fingerprint_of_the_first(head: str) -> None:
    first = parse_message(raw(content_length=2, body=b"hi", head=head))
    assert message_fingerprint(parse_message(raw(content_length=2, body=b"hi", head=head))) == (
        message_fingerprint(first))


@pytest.mark.parametrize("change", [
    lambda text: text.replace("tag=a6c85cf", "tag=fork2").replace("tag=1928301774", "tag=other"),
    lambda text: text.replace("314159", "314160"),
    lambda text: text.replace("200 OK", "202 Accepted").replace("INVITE sip:bob", "INVITE sip:carol"),
    lambda text: text + "X-Extra: 1\r\n",
], ids=["tag", "cseq", "start line", "header added"])
@pytest.mark.parametrize("head", [HEAD, RESPONSE_HEAD], ids=["request", "response"])
def test_another_message_has_another_fingerprint(head: str, change) -> None:
    first = parse_message(raw(content_length=0, head=head))
    assert message_fingerprint(parse_message(raw(content_length=0, head=change(head)))) != (
        message_fingerprint(first))


def test_another_body_gives_another_fingerprint() -> None:
    first = parse_message(raw(content_length=2, body=b"hi"))
    assert message_fingerprint(parse_message(raw(content_length=2, body=b"ho"))) != message_fingerprint(first)
