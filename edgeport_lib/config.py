"""EdgePort configuration loader (wire contract, section 8).

``load_config(path, env)`` reads a YAML or JSON file (detected by content), validates it with
marshmallow, applies the environment overrides and returns a frozen :class:`Config`.  Every
problem found (syntax, schema, startup checks, environment) is collected and raised as one
:class:`ConfigError` whose message has one ``<file>: <path>: <reason>`` line per problem
(``env:NAME: <reason>`` for environment variables).
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shutil
import socket
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from marshmallow import INCLUDE, RAISE, Schema, ValidationError, fields, validate

__all__ = [
    "AccessControl",
    "Config",
    "ConfigError",
    "Limits",
    "Timers",
    "OpsConfig",
    "SecurityContext",
    "TlsClientConfig",
    "TransportConfig",
    "detect_localnets",
    "load_config",
    "parse_ip_addr_output",
]

API_VERSIONS = ("v2beta1", "v2")
PROTOCOLS = ("udp", "tcp", "tls", "ws", "wss")
SECURE_PROTOCOLS = frozenset({"tls", "wss"})
SHAREABLE_PORT_PAIR = frozenset({"udp", "tcp"})
UNKNOWN_METHOD_ACTIONS = ("Discard", "Respond")
AUTH_TYPES = ("Enabled", "Want", "Disabled", "DisabledAll", "Default", "Required", "Wanted")
TLS_VERSIONS = ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")
KEY_STORE_TYPES = ("pkcs12", "pem")
DEFAULT_BIND_ADDR = "0.0.0.0"
DEFAULT_NATS_SUBJECT = "routr"
DEFAULT_TLS_VERSIONS = ("TLSv1.2", "TLSv1.3")
DEFAULT_AUTH_TYPE = "Default"

_METHOD_RE = re.compile(r"^[A-Z][A-Z0-9_-]*$")
_HOSTNAME_RE = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_-]{1,63})*\.?$")
_DOTTED_DIGITS_RE = re.compile(r"^[\d.]+$")
_NATS_SUBJECT_RE = re.compile(r"^[^\s.*>]+(?:\.[^\s.*>]+)*$")
_IP_INET_RE = re.compile(r"\binet\s+(\d{1,3}(?:\.\d{1,3}){3}/\d{1,2})\b")
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})


class ConfigError(Exception):
    """Invalid configuration; ``str()`` is one ``<file>: <path>: <reason>`` line per problem."""

    def __init__(self, errors: Sequence[str]) -> None:
        self.errors: tuple[str, ...] = tuple(errors)
        super().__init__("\n".join(self.errors))


# --------------------------------------------------------------------------- result types


@dataclass(frozen=True)
class TransportConfig:
    protocol: str  # lower case: udp, tcp, tls, ws, wss
    port: int
    bind_addr: str


@dataclass(frozen=True)
class TlsClientConfig:
    protocols: tuple[str, ...] = DEFAULT_TLS_VERSIONS
    auth_type: str = DEFAULT_AUTH_TYPE


@dataclass(frozen=True)
class SecurityContext:
    client: TlsClientConfig = TlsClientConfig()
    key_store: str | None = None
    trust_store: str | None = None
    key_store_type: str = "pkcs12"
    key_store_password: str | None = field(default=None, repr=False)
    trust_store_password: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Limits:
    max_message_size: int = 65536
    max_headers: int = 200
    max_line_length: int = 16384
    max_in_flight: int = 1000
    max_transactions: int = 100000
    max_connections: int = 10000
    max_connections_per_ip: int = 200
    read_timeout: float = 30.0
    idle_timeout: float = 600.0
    max_queued_events: int = 10000
    max_processor_delay: float = 0.0  # seconds; 0: off (see edgeport_lib/admission.py)


@dataclass(frozen=True)
class Timers:
    """RFC 3261 timer bases in seconds; lower them only for tests or very fast networks."""

    t1: float = 0.5
    t2: float = 4.0
    t4: float = 5.0
    c: float = 180.0  # how long a forwarded INVITE may go without a final response (timer C)


@dataclass(frozen=True)
class OpsConfig:
    """The HTTP server for /healthz, /livez and /metrics (started when ENABLE_HEALTHCHECKS=true)."""

    bind_addr: str = "0.0.0.0"
    port: int = 8080


@dataclass(frozen=True)
class AccessControl:
    """Source CIDR lists checked before parsing (EdgePort extension; see edgeport_lib/access.py).

    Empty ``allow``: every source not denied is allowed. ``deny`` wins over ``allow``.
    """

    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()


@dataclass(frozen=True)
class Config:
    kind: str
    api_version: str
    ref: str
    edge_port_ref: str
    region: str | None
    transports: tuple[TransportConfig, ...]
    methods: tuple[str, ...]
    processor_addr: str
    processor_timeout: float
    bind_addr: str
    external_addrs: tuple[str, ...]
    localnets: tuple[str, ...]
    unknown_method_action: str
    security_context: SecurityContext | None
    limits: Limits
    timers: Timers
    ops: OpsConfig
    shutdown_grace_period: float
    console_publisher: bool
    nats_enabled: bool
    nats_subject: str
    nats_url: str | None = field(repr=False)
    healthchecks: bool
    strip_session_progress_sdp: bool
    ignore_loopback_from_localnets: bool
    source_path: Path
    access_control: AccessControl = AccessControl()


# --------------------------------------------------------------------------- validators
# marshmallow 4 ignores validators returning False: every check below raises.


def _choice(choices: Sequence[str]) -> Any:
    lowered = {c.lower() for c in choices}

    def check(value: str) -> None:
        if value.lower() not in lowered:
            raise ValidationError(f"{value!r} is not one of: {', '.join(choices)}")

    return check


def _canonical(value: str, choices: Sequence[str]) -> str:
    return next(c for c in choices if c.lower() == value.lower())


def _not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError("must not be empty")


def _ip_address(value: str) -> None:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise ValidationError(f"{value!r} is not an IP address") from None


def cidr_problem(value: str) -> str | None:
    """Reason why ``value`` is not a CIDR network (``10.0.0.0/8``, ``192.168.1.10/24``), or None."""
    try:
        if "/" not in value:
            raise ValueError
        ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        return f"{value!r} is not a CIDR network (e.g. 10.0.0.0/8)"
    return None


def _cidr(value: str) -> None:
    problem = cidr_problem(value)
    if problem:
        raise ValidationError(problem)


def _method(value: str) -> None:
    if not _METHOD_RE.match(value):
        raise ValidationError(f"{value!r} is not an uppercase SIP method token (e.g. INVITE)")


def _valid_port(text: str) -> bool:
    return text.isdigit() and 1 <= int(text) <= 65535


def _valid_host(host: str) -> bool:
    bracketed = host.startswith("[") and host.endswith("]")
    try:
        return ipaddress.ip_address(host[1:-1] if bracketed else host).version == 6 or not bracketed
    except ValueError:
        return not bracketed and not _DOTTED_DIGITS_RE.match(host) and bool(_HOSTNAME_RE.match(host))


def _split_host_port(text: str) -> tuple[str, str | None] | None:
    """``(host, port or None)``; brackets kept around IPv6 hosts; None when malformed."""
    if text.startswith("["):
        host, bracket, rest = text.partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            return None
        return host + bracket, rest[1:] if rest else None
    if text.count(":") > 1:  # bare IPv6 address, no port
        return text, None
    host, colon, port = text.partition(":")
    return host, port if colon else None


def _valid_host_port(text: str, port_required: bool) -> bool:
    parts = _split_host_port(text)
    if parts is None:
        return False
    host, port = parts
    if port is None:
        return not port_required and _valid_host(host)
    return _valid_host(host) and _valid_port(port)


def _valid_ip_list(text: str, version: int) -> bool:
    for item in text.split(","):
        parts = _split_host_port(item)
        if parts is None or (parts[1] is not None and not _valid_port(parts[1])):
            return False
        try:
            if ipaddress.ip_address(parts[0].strip("[]")).version != version:
                return False
        except ValueError:
            return False
    return True


def _valid_dns_target(rest: str) -> bool:
    if rest.startswith("//"):
        _authority, slash, rest = rest[2:].partition("/")
        if not slash:
            return False
    return _valid_host_port(rest, port_required=False)


def processor_addr_problem(value: str) -> str | None:
    """Reason why ``value`` is neither ``host:port`` nor a gRPC target, or None when valid."""
    scheme, colon, rest = value.partition(":")
    checks = {
        "dns": lambda: _valid_dns_target(rest),
        "ipv4": lambda: _valid_ip_list(rest, 4),
        "ipv6": lambda: _valid_ip_list(rest, 6),
        "unix": lambda: bool(rest),
        "unix-abstract": lambda: bool(rest),
    }
    check = checks.get(scheme.lower()) if colon else None
    ok = check() if check else _valid_host_port(value, port_required=True)
    if ok:
        return None
    return (
        f"{value!r} is not host:port or a gRPC target "
        "(dns:///host:port, ipv4:addr:port, ipv6:[addr]:port, unix:path)"
    )


def _processor_addr(value: str) -> None:
    problem = processor_addr_problem(value)
    if problem:
        raise ValidationError(problem)


# --------------------------------------------------------------------------- schemas

_POSITIVE = validate.Range(min=0, min_inclusive=False, error="must be greater than 0")
_ZERO_OR_MORE = validate.Range(min=0, error="must be 0 (off) or greater")
_AT_LEAST_ONE = validate.Range(min=1, error="must be at least 1")
_NON_EMPTY_LIST = validate.Length(min=1, error="must contain at least one entry")
_SECRET_ERRORS = {"invalid": "must be a string (quote it in YAML)"}


def _count(key: str) -> fields.Integer:
    return fields.Integer(strict=True, data_key=key, validate=_AT_LEAST_ONE)


def _seconds(key: str) -> fields.Float:
    return fields.Float(data_key=key, validate=_POSITIVE)


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class _MetadataSchema(Schema):
    class Meta:
        unknown = INCLUDE

    region = fields.String(allow_none=True)


class _TransportSchema(_Strict):
    protocol = fields.String(required=True, validate=_choice(PROTOCOLS))
    port = fields.Integer(strict=True, required=True, validate=validate.Range(min=1, max=65535))
    bind_addr = fields.String(data_key="bindAddr", validate=_ip_address)


class _ProcessorSchema(_Strict):
    addr = fields.String(required=True, validate=_processor_addr)
    timeout = fields.Float(validate=_POSITIVE)


class _ClientSchema(_Strict):
    protocols = fields.List(fields.String(validate=_choice(TLS_VERSIONS)), validate=_NON_EMPTY_LIST)
    auth_type = fields.String(data_key="authType", validate=_choice(AUTH_TYPES))


class _SecuritySchema(_Strict):
    client = fields.Nested(_ClientSchema)
    key_store = fields.String(data_key="keyStore", validate=_not_blank)
    trust_store = fields.String(data_key="trustStore", validate=_not_blank)
    key_store_password = fields.String(data_key="keyStorePassword", error_messages=_SECRET_ERRORS)
    trust_store_password = fields.String(data_key="trustStorePassword", error_messages=_SECRET_ERRORS)
    key_store_type = fields.String(data_key="keyStoreType", validate=_choice(KEY_STORE_TYPES))


class _LimitsSchema(_Strict):
    max_message_size = _count("maxMessageSize")
    max_headers = _count("maxHeaders")
    max_line_length = _count("maxLineLength")
    max_in_flight = _count("maxInFlight")
    max_transactions = _count("maxTransactions")
    max_connections = _count("maxConnections")
    max_connections_per_ip = _count("maxConnectionsPerIp")
    read_timeout = _seconds("readTimeout")
    idle_timeout = _seconds("idleTimeout")
    max_queued_events = _count("maxQueuedEvents")
    max_processor_delay = fields.Float(data_key="maxProcessorDelay", validate=_ZERO_OR_MORE)


class _TimersSchema(_Strict):
    t1 = _seconds("t1")
    t2 = _seconds("t2")
    t4 = _seconds("t4")
    c = _seconds("c")


class _OpsSchema(_Strict):
    bind_addr = fields.String(data_key="bindAddr", validate=_ip_address)
    port = fields.Integer(strict=True, validate=validate.Range(min=1, max=65535))


class _AccessControlSchema(_Strict):
    allow = fields.List(fields.String(validate=_cidr))
    deny = fields.List(fields.String(validate=_cidr))


class _SpecSchema(_Strict):
    transport = fields.List(fields.Nested(_TransportSchema), required=True, validate=_NON_EMPTY_LIST)
    methods = fields.List(fields.String(validate=_method), required=True, validate=_NON_EMPTY_LIST)
    processor = fields.Nested(_ProcessorSchema, required=True)
    bind_addr = fields.String(data_key="bindAddr", validate=_ip_address)
    external_addrs = fields.List(fields.String(validate=_not_blank), data_key="externalAddrs")
    localnets = fields.List(fields.String(validate=_cidr))
    unknown_method_action = fields.String(
        data_key="unknownMethodAction", validate=_choice(UNKNOWN_METHOD_ACTIONS)
    )
    security_context = fields.Nested(_SecuritySchema, data_key="securityContext", allow_none=True)
    limits = fields.Nested(_LimitsSchema)
    timers = fields.Nested(_TimersSchema)
    ops = fields.Nested(_OpsSchema)
    shutdown_grace_period = fields.Float(data_key="shutdownGracePeriod", validate=validate.Range(min=0))
    access_control = fields.Nested(_AccessControlSchema, data_key="accessControl", allow_none=True)


class _ConfigSchema(_Strict):
    kind = fields.String(required=True, validate=_not_blank)
    api_version = fields.String(data_key="apiVersion", required=True, validate=validate.OneOf(API_VERSIONS))
    ref = fields.String(required=True, validate=_not_blank)
    metadata = fields.Nested(_MetadataSchema, allow_none=True)
    spec = fields.Nested(_SpecSchema, required=True)


# --------------------------------------------------------------------------- reading


def _read_document(path: Path) -> tuple[Any, list[str]]:
    """Parse the file; returns (document, errors). The document is None when unusable."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return None, [f"{path}: file not found"]
    except UnicodeDecodeError:
        return None, [f"{path}: not a UTF-8 text file"]
    except OSError as exc:
        return None, [f"{path}: cannot read file: {exc.strerror or exc}"]
    if text.lstrip().startswith("{"):
        return _parse_json(path, text)
    return _parse_yaml(path, text)


def _parse_json(path: Path, text: str) -> tuple[Any, list[str]]:
    try:
        return json.loads(text), []
    except json.JSONDecodeError as exc:
        return None, [f"{path}: line {exc.lineno}, column {exc.colno}: JSON syntax error: {exc.msg}"]


def _parse_yaml(path: Path, text: str) -> tuple[Any, list[str]]:
    # The offending source line is never echoed: it could hold a password.
    try:
        return yaml.safe_load(text), []
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(document)"
        reason = "; ".join(part for part in (exc.context, exc.problem) if part)
        return None, [f"{path}: {where}: YAML syntax error: {reason}"]
    except yaml.YAMLError as exc:
        return None, [f"{path}: (document): YAML syntax error: {type(exc).__name__}"]


def _join(path: str, key: Any) -> str:
    if key == "_schema":
        return path
    if isinstance(key, int) and path:
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def _flatten(messages: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(messages, dict):
        for key, value in messages.items():
            yield from _flatten(value, _join(path, key))
    elif isinstance(messages, list):
        for item in messages:
            yield from _flatten(item, path)
    else:
        yield path or "(document)", str(messages)


def _validate(document: Any) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    if document is None:
        return {}, [("(document)", "file is empty")]
    if not isinstance(document, dict):
        return {}, [("(document)", f"expected a mapping at the top level, got {type(document).__name__}")]
    try:
        return _ConfigSchema().load(document), []
    except ValidationError as exc:
        return {}, list(_flatten(exc.messages))


# --------------------------------------------------------------------------- startup checks


def _transport_entries(document: Any) -> Iterator[tuple[int, str | None, int | None]]:
    """(index, lower-case protocol or None, port or None) for each raw transport entry."""
    spec = document.get("spec") if isinstance(document, dict) else None
    entries = spec.get("transport") if isinstance(spec, dict) else None
    for index, entry in enumerate(entries if isinstance(entries, list) else []):
        entry = entry if isinstance(entry, dict) else {}
        protocol, port = entry.get("protocol"), entry.get("port")
        protocol = protocol.lower() if isinstance(protocol, str) and protocol.lower() in PROTOCOLS else None
        port = port if isinstance(port, int) and not isinstance(port, bool) else None
        yield index, protocol, port


def _duplicate_protocols(document: Any) -> list[tuple[str, str]]:
    first: dict[str, int] = {}
    errors = []
    for index, protocol, _port in _transport_entries(document):
        if protocol is None:
            continue
        if protocol in first:
            reason = f"protocol {protocol!r} is already defined by spec.transport[{first[protocol]}]"
            errors.append((f"spec.transport[{index}].protocol", reason))
        first.setdefault(protocol, index)
    return errors


def _port_conflicts(document: Any) -> list[tuple[str, str]]:
    earlier: list[tuple[int, str, int]] = []
    errors = []
    for index, protocol, port in _transport_entries(document):
        if protocol is None or port is None:
            continue
        for other_index, other_protocol, other_port in earlier:
            if port == other_port and protocol != other_protocol:
                if {protocol, other_protocol} != SHAREABLE_PORT_PAIR:
                    reason = (
                        f"port {port} is already used by spec.transport[{other_index}] ({other_protocol}); "
                        "only udp and tcp may share a port"
                    )
                    errors.append((f"spec.transport[{index}].port", reason))
                    break
        earlier.append((index, protocol, port))
    return errors


def _tls_requirements(document: Any) -> list[tuple[str, str]]:
    secure = [(i, p) for i, p, _ in _transport_entries(document) if p in SECURE_PROTOCOLS]
    if not secure:
        return []
    context = document["spec"].get("securityContext")
    if context is None:
        return [(f"spec.transport[{i}].protocol", f"{p} requires spec.securityContext") for i, p in secure]
    if isinstance(context, dict) and not context.get("keyStore"):
        index, protocol = secure[0]
        return [("spec.securityContext.keyStore", f"required by {protocol} (spec.transport[{index}])")]
    return []


def _startup_checks(document: Any) -> list[tuple[str, str]]:
    return _duplicate_protocols(document) + _port_conflicts(document) + _tls_requirements(document)


# --------------------------------------------------------------------------- environment


@dataclass
class _EnvSettings:
    processor_addr: str | None = None
    hostname: str | None = None
    external_addrs: tuple[str, ...] | None = None
    localnets: tuple[str, ...] | None = None
    access_allow: tuple[str, ...] | None = None
    access_deny: tuple[str, ...] | None = None
    ignore_loopback_from_localnets: bool = False
    console_publisher: bool = False
    nats_enabled: bool = False
    nats_subject: str = DEFAULT_NATS_SUBJECT
    nats_url: str | None = field(default=None, repr=False)
    healthchecks: bool = False
    strip_session_progress_sdp: bool = False


_BOOL_VARS = {
    "IGNORE_LOOPBACK_FROM_LOCALNETS": "ignore_loopback_from_localnets",
    "CONSOLE_PUBLISHER_ENABLED": "console_publisher",
    "NATS_PUBLISHER_ENABLED": "nats_enabled",
    "ENABLE_HEALTHCHECKS": "healthchecks",
    "STRIP_SESSION_PROGRESS_SDP": "strip_session_progress_sdp",
}


def _env_value(env: Mapping[str, str], name: str) -> str | None:
    """The stripped value of ``name``; unset and empty are the same."""
    value = env.get(name, "").strip()
    return value or None


def _split_list(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _read_env_bools(env: Mapping[str, str], settings: _EnvSettings) -> list[str]:
    errors = []
    for name, attribute in _BOOL_VARS.items():
        value = _env_value(env, name)
        if value is None:
            continue
        if value.lower() in _TRUE | _FALSE:
            setattr(settings, attribute, value.lower() in _TRUE)
        else:
            errors.append(f"env:{name}: {value!r} is not a boolean (true/false, 1/0, yes/no)")
    return errors


def _read_env_addresses(env: Mapping[str, str], settings: _EnvSettings) -> list[str]:
    errors = []
    settings.hostname = _env_value(env, "HOSTNAME")
    settings.processor_addr = _env_value(env, "PROCESSOR_ADDR")
    if settings.processor_addr and (problem := processor_addr_problem(settings.processor_addr)):
        errors.append(f"env:PROCESSOR_ADDR: {problem}")
    if value := _env_value(env, "EXTERNAL_ADDRS"):
        settings.external_addrs = _split_list(value)
    if value := _env_value(env, "LOCALNETS"):
        settings.localnets = _split_list(value)
        errors += [f"env:LOCALNETS: {p}" for p in map(cidr_problem, settings.localnets) if p]
    if value := _env_value(env, "ACCESS_ALLOW"):
        settings.access_allow = _split_list(value)
        errors += [f"env:ACCESS_ALLOW: {p}" for p in map(cidr_problem, settings.access_allow) if p]
    if value := _env_value(env, "ACCESS_DENY"):
        settings.access_deny = _split_list(value)
        errors += [f"env:ACCESS_DENY: {p}" for p in map(cidr_problem, settings.access_deny) if p]
    return errors


def _read_env_nats(env: Mapping[str, str], settings: _EnvSettings) -> list[str]:
    errors = []
    settings.nats_subject = _env_value(env, "NATS_PUBLISHER_SUBJECT") or DEFAULT_NATS_SUBJECT
    if not _NATS_SUBJECT_RE.match(settings.nats_subject):
        errors.append(f"env:NATS_PUBLISHER_SUBJECT: {settings.nats_subject!r} is not a valid NATS subject")
    settings.nats_url = _env_value(env, "NATS_PUBLISHER_URL")
    if settings.nats_enabled and not settings.nats_url:
        errors.append("env:NATS_PUBLISHER_URL: required when NATS_PUBLISHER_ENABLED is true")
    return errors


def _read_env(env: Mapping[str, str]) -> tuple[_EnvSettings, list[str]]:
    settings = _EnvSettings()
    errors = _read_env_bools(env, settings)
    errors += _read_env_addresses(env, settings)
    errors += _read_env_nats(env, settings)
    return settings, errors


# --------------------------------------------------------------------------- localnets


def parse_ip_addr_output(text: str) -> list[str]:
    """``<address>/<prefix>`` of every ``inet`` line of ``ip -o -4 addr show`` output."""
    return _IP_INET_RE.findall(text)


def _ip_command_networks() -> list[str]:
    ip = shutil.which("ip")
    if ip is None:
        return []
    try:
        done = subprocess.run(
            [ip, "-o", "-4", "addr", "show"], capture_output=True, text=True, timeout=3, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return []
    return parse_ip_addr_output(done.stdout) if done.returncode == 0 else []


def _resolver_networks() -> list[str]:
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
    except OSError:
        infos = []
    return [f"{info[4][0]}/32" for info in infos] + ["127.0.0.1/8"]


def detect_localnets(ignore_loopback: bool = False) -> tuple[str, ...]:
    """``<own IPv4>/<prefix>`` of every local interface (127.0.0.0/8 left out if ``ignore_loopback``).

    Uses ``ip -o -4 addr show`` when available, else the addresses the host name resolves to
    (as /32) plus ``127.0.0.1/8``.
    """
    found = _ip_command_networks() or _resolver_networks()
    loopback = ipaddress.ip_network("127.0.0.0/8")
    return tuple(
        net
        for net in dict.fromkeys(found)
        if not (ignore_loopback and ipaddress.ip_interface(net).ip in loopback)
    )


# --------------------------------------------------------------------------- building


def _transports(spec: Mapping[str, Any], bind_addr: str) -> tuple[TransportConfig, ...]:
    return tuple(
        TransportConfig(entry["protocol"].lower(), entry["port"], entry.get("bind_addr", bind_addr))
        for entry in spec["transport"]
    )


def _security_context(data: Mapping[str, Any] | None) -> SecurityContext | None:
    if data is None:
        return None
    client = data.get("client") or {}
    protocols = client.get("protocols", DEFAULT_TLS_VERSIONS)
    return SecurityContext(
        client=TlsClientConfig(
            protocols=tuple(_canonical(p, TLS_VERSIONS) for p in protocols),
            auth_type=_canonical(client.get("auth_type", DEFAULT_AUTH_TYPE), AUTH_TYPES),
        ),
        key_store=data.get("key_store"),
        trust_store=data.get("trust_store"),
        key_store_type=data.get("key_store_type", "pkcs12").lower(),
        key_store_password=data.get("key_store_password"),
        trust_store_password=data.get("trust_store_password"),
    )


def _localnets(spec: Mapping[str, Any], settings: _EnvSettings) -> tuple[str, ...]:
    configured = settings.localnets or tuple(net.strip() for net in spec.get("localnets", ()))
    return configured or detect_localnets(settings.ignore_loopback_from_localnets)


def _access_control(spec: Mapping[str, Any], settings: _EnvSettings) -> AccessControl:
    """spec.accessControl, each list replaced by ACCESS_ALLOW / ACCESS_DENY when set."""
    conf = spec.get("access_control") or {}
    allow = settings.access_allow or tuple(net.strip() for net in conf.get("allow", ()))
    deny = settings.access_deny or tuple(net.strip() for net in conf.get("deny", ()))
    return AccessControl(allow=allow, deny=deny)


def _build(data: Mapping[str, Any], settings: _EnvSettings, path: Path) -> Config:
    spec = data["spec"]
    bind_addr = spec.get("bind_addr", DEFAULT_BIND_ADDR)
    action = spec.get("unknown_method_action", "Respond")
    return Config(
        kind=data["kind"],
        api_version=data["api_version"],
        ref=data["ref"],
        edge_port_ref=settings.hostname or data["ref"],
        region=(data.get("metadata") or {}).get("region"),
        transports=_transports(spec, bind_addr),
        methods=tuple(dict.fromkeys(spec["methods"])),
        processor_addr=settings.processor_addr or spec["processor"]["addr"],
        processor_timeout=spec["processor"].get("timeout", 5.0),
        bind_addr=bind_addr,
        external_addrs=settings.external_addrs or tuple(spec.get("external_addrs", ())),
        localnets=_localnets(spec, settings),
        unknown_method_action=_canonical(action, UNKNOWN_METHOD_ACTIONS),
        security_context=_security_context(spec.get("security_context")),
        limits=Limits(**spec.get("limits", {})),
        timers=Timers(**spec.get("timers", {})),
        ops=OpsConfig(**spec.get("ops", {})),
        shutdown_grace_period=spec.get("shutdown_grace_period", 30.0),
        console_publisher=settings.console_publisher,
        nats_enabled=settings.nats_enabled,
        nats_subject=settings.nats_subject,
        nats_url=settings.nats_url,
        healthchecks=settings.healthchecks,
        strip_session_progress_sdp=settings.strip_session_progress_sdp,
        ignore_loopback_from_localnets=settings.ignore_loopback_from_localnets,
        source_path=path,
        access_control=_access_control(spec, settings),
    )


def load_config(path: str | Path, env: Mapping[str, str] | None = None) -> Config:
    """Load, validate and return the configuration; raise :class:`ConfigError` listing every problem."""
    path = Path(path)
    env = os.environ if env is None else env
    document, errors = _read_document(path)
    data: dict[str, Any] = {}
    if not errors:
        data, problems = _validate(document)
        problems += _startup_checks(document)
        errors = [f"{path}: {where}: {reason}" for where, reason in problems]
    settings, env_errors = _read_env(env)
    if errors or env_errors:
        raise ConfigError(errors + env_errors)
    return _build(data, settings, path)
