"""Tests for edgeport_lib.config (wire contract section 8)."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from edgeport_lib.config import (
    AccessControl,
    Config,
    ConfigError,
    Limits,
    detect_localnets,
    load_config,
    parse_ip_addr_output,
)
from edgeport_lib.events import EventBus

REPO_ROOT = Path(__file__).resolve().parents[2]
NO_ENV: dict[str, str] = {}

BASE: dict[str, Any] = {
    "kind": "EdgePort",
    "apiVersion": "v2beta1",
    "ref": "edgeport-01",
    "metadata": {"region": "us-east1", "anything": {"goes": True}},
    "spec": {
        "transport": [{"protocol": "udp", "port": 5060}, {"protocol": "TCP", "port": 5060}],
        "methods": ["REGISTER", "INVITE"],
        "processor": {"addr": "dispatcher:51901"},
        "localnets": ["10.0.0.0/8"],
    },
}

SECURITY = {
    "client": {"protocols": ["TLSv1.2"], "authType": "DisabledAll"},
    "keyStore": "signaling.p12",
    "trustStore": "signaling.p12",
    "keyStorePassword": "s3cret-key",
    "trustStorePassword": "s3cret-trust",
    "keyStoreType": "pkcs12",
}


def base() -> dict[str, Any]:
    return copy.deepcopy(BASE)


def write_yaml(tmp_path: Path, data: Any, name: str = "edgeport.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def errors_of(path: Path, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(path, NO_ENV if env is None else env)
    assert str(info.value) == "\n".join(info.value.errors)
    return list(info.value.errors)


def load(tmp_path: Path, data: Any, env: dict[str, str] | None = None) -> Config:
    return load_config(write_yaml(tmp_path, data), NO_ENV if env is None else env)


# --------------------------------------------------------------------------- valid files


def test_valid_yaml(tmp_path: Path) -> None:
    path = write_yaml(tmp_path, base())
    config = load_config(str(path), NO_ENV)
    assert config.kind == "EdgePort"
    assert config.api_version == "v2beta1"
    assert config.ref == config.edge_port_ref == "edgeport-01"
    assert config.region == "us-east1"
    assert [(t.protocol, t.port, t.bind_addr) for t in config.transports] == [
        ("udp", 5060, "0.0.0.0"),
        ("tcp", 5060, "0.0.0.0"),
    ]
    assert config.methods == ("REGISTER", "INVITE")
    assert config.processor_addr == "dispatcher:51901"
    assert config.processor_timeout == 5.0
    assert config.bind_addr == "0.0.0.0"
    assert config.external_addrs == ()
    assert config.localnets == ("10.0.0.0/8",)
    assert config.unknown_method_action == "Respond"
    assert config.security_context is None
    assert config.limits == Limits()
    assert config.limits.max_in_flight == 1000 and config.limits.idle_timeout == 600.0
    assert not (config.console_publisher or config.nats_enabled or config.healthchecks)
    assert not (config.strip_session_progress_sdp or config.ignore_loopback_from_localnets)
    assert config.nats_subject == "routr" and config.nats_url is None
    assert config.source_path == path
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.ref = "other"  # type: ignore[misc]


def test_valid_json_detected_by_content(tmp_path: Path) -> None:
    data = base()
    data["apiVersion"] = "v2"
    data["spec"]["bindAddr"] = "10.1.2.3"
    data["spec"]["transport"].append({"protocol": "ws", "port": 5062, "bindAddr": "127.0.0.1"})
    data["spec"]["processor"] = {"addr": "dns:///dispatcher:51901", "timeout": 2.5}
    data["spec"]["unknownMethodAction"] = "discard"
    data["spec"]["limits"] = {"maxInFlight": 50, "readTimeout": 5}
    path = tmp_path / "edgeport.conf"
    path.write_text("\n  " + json.dumps(data, indent=2), encoding="utf-8")
    config = load_config(path, NO_ENV)
    assert config.api_version == "v2"
    assert [t.bind_addr for t in config.transports] == ["10.1.2.3", "10.1.2.3", "127.0.0.1"]
    assert config.processor_addr == "dns:///dispatcher:51901"
    assert config.processor_timeout == 2.5
    assert config.unknown_method_action == "Discard"
    assert config.limits == Limits(max_in_flight=50, read_timeout=5.0)


def test_security_context_loaded_and_passwords_hidden(tmp_path: Path) -> None:
    data = base()
    data["spec"]["transport"].append({"protocol": "TLS", "port": 5061})
    data["spec"]["securityContext"] = SECURITY
    config = load(tmp_path, data)
    context = config.security_context
    assert context is not None
    assert context.key_store == "signaling.p12" and context.key_store_type == "pkcs12"
    assert context.key_store_password == "s3cret-key"
    assert context.client.protocols == ("TLSv1.2",)
    assert context.client.auth_type == "DisabledAll"
    assert config.transports[2].protocol == "tls"
    assert "s3cret" not in repr(config)


@pytest.mark.parametrize(
    "addr",
    ["127.0.0.1:51904", "dispatcher:51901", "dns:///dispatcher:51901", "ipv4:127.0.0.1:51904",
     "ipv6:[::1]:51904", "[::1]:51904", "unix:/run/processor.sock"],
)  # fmt: skip
def test_processor_addr_forms_accepted(tmp_path: Path, addr: str) -> None:
    data = base()
    data["spec"]["processor"]["addr"] = addr
    assert load(tmp_path, data).processor_addr == addr


def test_example_config_loads() -> None:
    config = load_config(REPO_ROOT / "config.example.yaml", NO_ENV)
    assert config.ref == "edgeport-01"
    assert [(t.protocol, t.port) for t in config.transports] == [("udp", 5060), ("tcp", 5060)]
    assert config.processor_addr == "127.0.0.1:51904"
    assert len(config.methods) == 14
    assert config.limits == Limits()
    assert config.localnets  # auto-detected


# --------------------------------------------------------------------------- startup checks


def test_duplicate_protocol_is_refused(tmp_path: Path) -> None:
    data = base()
    data["spec"]["transport"].append({"protocol": "Udp", "port": 5070})
    path = write_yaml(tmp_path, data)
    errors = errors_of(path)
    assert len(errors) == 1
    assert errors[0].startswith(f"{path}: spec.transport[2].protocol: ")
    assert "spec.transport[0]" in errors[0]


def test_port_shared_beyond_udp_tcp_is_refused(tmp_path: Path) -> None:
    data = base()
    data["spec"]["transport"].append({"protocol": "ws", "port": 5060})
    errors = errors_of(write_yaml(tmp_path, data))
    assert len(errors) == 1
    assert ": spec.transport[2].port: port 5060 is already used" in errors[0]


def test_udp_and_tcp_may_share_a_port(tmp_path: Path) -> None:
    assert len(load(tmp_path, base()).transports) == 2


@pytest.mark.parametrize("protocol", ["tls", "WSS"])
def test_secure_transport_without_security_context_is_refused(tmp_path: Path, protocol: str) -> None:
    data = base()
    data["spec"]["transport"].append({"protocol": protocol, "port": 5061})
    errors = errors_of(write_yaml(tmp_path, data))
    assert len(errors) == 1
    assert f": spec.transport[2].protocol: {protocol.lower()} requires spec.securityContext" in errors[0]


def test_secure_transport_needs_a_key_store(tmp_path: Path) -> None:
    data = base()
    data["spec"]["transport"].append({"protocol": "tls", "port": 5061})
    data["spec"]["securityContext"] = {"keyStoreType": "pem"}
    errors = errors_of(write_yaml(tmp_path, data))
    assert len(errors) == 1 and ": spec.securityContext.keyStore: required by tls" in errors[0]


def test_schema_and_check_errors_are_reported_together(tmp_path: Path) -> None:
    data = base()
    data["spec"]["transport"] += [{"protocol": "udp", "port": 5070}, {"protocol": "tcp", "port": 0}]
    errors = errors_of(write_yaml(tmp_path, data))
    paths = [e.split(": ")[1] for e in errors]
    assert paths == ["spec.transport[3].port", "spec.transport[2].protocol", "spec.transport[3].protocol"]


# --------------------------------------------------------------------------- schema errors


def test_missing_required_keys_reported_at_once(tmp_path: Path) -> None:
    data = base()
    del data["kind"], data["ref"]
    del data["spec"]["methods"], data["spec"]["processor"]
    del data["spec"]["transport"][0]["port"]
    path = write_yaml(tmp_path, data)
    errors = errors_of(path)
    assert sorted(errors) == sorted(
        f"{path}: {where}: Missing data for required field."
        for where in ("kind", "ref", "spec.methods", "spec.processor", "spec.transport[0].port")
    )


def test_unknown_key_is_rejected_with_its_path(tmp_path: Path) -> None:
    data = base()
    data["spec"]["transport"][1]["bindaddr"] = "0.0.0.0"
    data["spec"]["limts"] = {}
    path = write_yaml(tmp_path, data)
    assert sorted(errors_of(path)) == [
        f"{path}: spec.limts: Unknown field.",
        f"{path}: spec.transport[1].bindaddr: Unknown field.",
    ]


@pytest.mark.parametrize("port", [0, 65536, "5060", True, 50.5])
def test_bad_port(tmp_path: Path, port: Any) -> None:
    data = base()
    data["spec"]["transport"][1]["port"] = port
    errors = errors_of(write_yaml(tmp_path, data))
    assert len(errors) == 1 and ": spec.transport[1].port: " in errors[0]


def test_wrong_api_version(tmp_path: Path) -> None:
    data = base()
    data["apiVersion"] = "v1"
    errors = errors_of(write_yaml(tmp_path, data))
    assert len(errors) == 1 and ": apiVersion: Must be one of: v2beta1, v2." in errors[0]


@pytest.mark.parametrize(
    ("mutate", "where"),
    [
        (lambda d: d["spec"]["transport"][0].update(protocol="sctp"), "spec.transport[0].protocol"),
        (lambda d: d["spec"].update(methods=["invite"]), "spec.methods[0]"),
        (lambda d: d["spec"].update(methods=[]), "spec.methods"),
        (lambda d: d["spec"].update(transport=[]), "spec.transport"),
        (lambda d: d["spec"]["processor"].update(addr="dispatcher"), "spec.processor.addr"),
        (lambda d: d["spec"]["processor"].update(timeout=0), "spec.processor.timeout"),
        (lambda d: d["spec"].update(localnets=["10.0.0.1"]), "spec.localnets[0]"),
        (lambda d: d["spec"].update(bindAddr="not-an-ip"), "spec.bindAddr"),
        (lambda d: d["spec"].update(unknownMethodAction="Ignore"), "spec.unknownMethodAction"),
        (lambda d: d["spec"].update(limits={"maxInFlight": 0}), "spec.limits.maxInFlight"),
        (lambda d: d["spec"].update(timers={"c": 0}), "spec.timers.c"),
        (lambda d: d["spec"].update(securityContext={"client": {"authType": "x"}}),
         "spec.securityContext.client.authType"),
        (lambda d: d["spec"].update(securityContext={"keyStoreType": "jks"}),
         "spec.securityContext.keyStoreType"),
        (lambda d: d.update(spec="nope"), "spec"),
    ],
)  # fmt: skip
def test_invalid_values_name_their_path(tmp_path: Path, mutate: Any, where: str) -> None:
    data = base()
    mutate(data)
    errors = errors_of(write_yaml(tmp_path, data))
    assert [e.split(": ")[1] for e in errors] == [where]


def test_password_never_in_errors(tmp_path: Path) -> None:
    data = base()
    data["spec"]["securityContext"] = dict(SECURITY, keyStorePassword=123456, bogus=1)
    text = "\n".join(errors_of(write_yaml(tmp_path, data)))
    assert "spec.securityContext.keyStorePassword: must be a string" in text
    assert "123456" not in text


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    path = write_yaml(tmp_path, ["a", "b"])
    assert errors_of(path) == [f"{path}: (document): expected a mapping at the top level, got list"]


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("# nothing\n", encoding="utf-8")
    assert errors_of(path) == [f"{path}: (document): file is empty"]


# --------------------------------------------------------------------------- file errors


def test_yaml_syntax_error_names_file_and_hides_source(tmp_path: Path) -> None:
    path = tmp_path / "edgeport.yaml"
    path.write_text("kind: EdgePort\nspec:\n  keyStorePassword: s3cret: x\n", encoding="utf-8")
    errors = errors_of(path)
    assert len(errors) == 1
    assert errors[0].startswith(f"{path}: line 3, column ") and "YAML syntax error" in errors[0]
    assert "s3cret" not in errors[0]


def test_json_syntax_error_names_file_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "edgeport.yaml"
    path.write_text('{\n  "kind": "EdgePort",\n  "ref": }\n', encoding="utf-8")
    assert errors_of(path) == [f"{path}: line 3, column 10: JSON syntax error: Expecting value"]


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"
    assert errors_of(path) == [f"{path}: file not found"]


def test_unreadable_file(tmp_path: Path) -> None:
    assert errors_of(tmp_path) == [f"{tmp_path}: cannot read file: Is a directory"]


def test_file_and_env_errors_collected_together(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"
    errors = errors_of(path, {"ENABLE_HEALTHCHECKS": "maybe"})
    assert errors == [f"{path}: file not found", "env:ENABLE_HEALTHCHECKS: 'maybe' is not a boolean "
                      "(true/false, 1/0, yes/no)"]  # fmt: skip


# --------------------------------------------------------------------------- environment


def test_env_processor_addr(tmp_path: Path) -> None:
    config = load(tmp_path, base(), {"PROCESSOR_ADDR": "ipv4:127.0.0.1:51904"})
    assert config.processor_addr == "ipv4:127.0.0.1:51904"


def test_env_processor_addr_invalid(tmp_path: Path) -> None:
    errors = errors_of(write_yaml(tmp_path, base()), {"PROCESSOR_ADDR": "nowhere"})
    assert len(errors) == 1 and errors[0].startswith("env:PROCESSOR_ADDR: ")


def test_env_hostname(tmp_path: Path) -> None:
    config = load(tmp_path, base(), {"HOSTNAME": "edgeport-7d9f"})
    assert config.edge_port_ref == "edgeport-7d9f"
    assert config.ref == "edgeport-01"


def test_env_external_addrs(tmp_path: Path) -> None:
    data = base()
    data["spec"]["externalAddrs"] = ["198.51.100.1"]
    assert load(tmp_path, data).external_addrs == ("198.51.100.1",)
    config = load(tmp_path, data, {"EXTERNAL_ADDRS": "203.0.113.10, sip.example.com,"})
    assert config.external_addrs == ("203.0.113.10", "sip.example.com")


def test_env_localnets(tmp_path: Path) -> None:
    config = load(tmp_path, base(), {"LOCALNETS": "192.168.1.10/24,172.16.0.0/12"})
    assert config.localnets == ("192.168.1.10/24", "172.16.0.0/12")


def test_env_localnets_invalid(tmp_path: Path) -> None:
    errors = errors_of(write_yaml(tmp_path, base()), {"LOCALNETS": "10.0.0.0/8,bogus"})
    assert errors == ["env:LOCALNETS: 'bogus' is not a CIDR network (e.g. 10.0.0.0/8)"]


def test_env_ignore_loopback_from_localnets(tmp_path: Path) -> None:
    data = base()
    data["spec"]["localnets"] = []
    config = load(tmp_path, data, {"IGNORE_LOOPBACK_FROM_LOCALNETS": "TRUE"})
    assert config.ignore_loopback_from_localnets is True
    assert config.localnets == detect_localnets(ignore_loopback=True)
    assert not any(net.startswith("127.") for net in config.localnets)


def test_env_console_publisher(tmp_path: Path) -> None:
    assert load(tmp_path, base(), {"CONSOLE_PUBLISHER_ENABLED": "yes"}).console_publisher is True


def test_env_nats_enabled_with_url(tmp_path: Path) -> None:
    config = load(
        tmp_path, base(), {"NATS_PUBLISHER_ENABLED": "1", "NATS_PUBLISHER_URL": "nats://u:pw@nats:4222"}
    )
    assert config.nats_enabled is True
    assert config.nats_url == "nats://u:pw@nats:4222"
    assert "pw@" not in repr(config)


def test_env_nats_url_missing(tmp_path: Path) -> None:
    errors = errors_of(write_yaml(tmp_path, base()), {"NATS_PUBLISHER_ENABLED": "true"})
    assert errors == ["env:NATS_PUBLISHER_URL: required when NATS_PUBLISHER_ENABLED is true"]


def test_env_nats_subject(tmp_path: Path) -> None:
    assert load(tmp_path, base(), {"NATS_PUBLISHER_SUBJECT": "edge.events"}).nats_subject == "edge.events"
    errors = errors_of(write_yaml(tmp_path, base()), {"NATS_PUBLISHER_SUBJECT": "bad subject"})
    assert len(errors) == 1 and errors[0].startswith("env:NATS_PUBLISHER_SUBJECT: ")


def test_env_nats_url(tmp_path: Path) -> None:
    assert load(tmp_path, base(), {"NATS_PUBLISHER_URL": "nats://nats:4222"}).nats_url == "nats://nats:4222"


def test_env_enable_healthchecks(tmp_path: Path) -> None:
    assert load(tmp_path, base(), {"ENABLE_HEALTHCHECKS": "true"}).healthchecks is True
    assert load(tmp_path, base(), {"ENABLE_HEALTHCHECKS": "No"}).healthchecks is False


def test_env_strip_session_progress_sdp(tmp_path: Path) -> None:
    config = load(tmp_path, base(), {"STRIP_SESSION_PROGRESS_SDP": "Yes"})
    assert config.strip_session_progress_sdp is True


def test_env_empty_value_counts_as_unset(tmp_path: Path) -> None:
    config = load(tmp_path, base(), {"HOSTNAME": "", "ENABLE_HEALTHCHECKS": " ", "PROCESSOR_ADDR": ""})
    assert config.edge_port_ref == "edgeport-01" and config.healthchecks is False
    assert config.processor_addr == "dispatcher:51901"


def test_env_bool_parse_errors_collected(tmp_path: Path) -> None:
    env = {"CONSOLE_PUBLISHER_ENABLED": "enabled", "STRIP_SESSION_PROGRESS_SDP": "2"}
    errors = errors_of(write_yaml(tmp_path, base()), env)
    names = [e.split(": ")[0] for e in errors]
    assert names == ["env:CONSOLE_PUBLISHER_ENABLED", "env:STRIP_SESSION_PROGRESS_SDP"]


# --------------------------------------------------------------------------- localnets detection

IP_OUTPUT = (
    "1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever\n"
    "2: eth0    inet 192.168.1.10/24 brd 192.168.1.255 scope global eth0\\       valid_lft forever\n"
    "3: wg0    inet 10.8.0.2/32 scope global wg0\\       valid_lft forever preferred_lft forever\n"
)


def test_parse_ip_addr_output_keeps_host_address() -> None:
    assert parse_ip_addr_output(IP_OUTPUT) == ["127.0.0.1/8", "192.168.1.10/24", "10.8.0.2/32"]


def test_detect_localnets_with_ip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    import edgeport_lib.config as module

    monkeypatch.setattr(module, "_ip_command_networks", lambda: parse_ip_addr_output(IP_OUTPUT))
    assert detect_localnets() == ("127.0.0.1/8", "192.168.1.10/24", "10.8.0.2/32")
    assert detect_localnets(ignore_loopback=True) == ("192.168.1.10/24", "10.8.0.2/32")


def test_detect_localnets_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    import edgeport_lib.config as module

    monkeypatch.setattr(module.shutil, "which", lambda _name: None)
    monkeypatch.setattr(module.socket, "gethostname", lambda: "edge")
    monkeypatch.setattr(module.socket, "getaddrinfo", lambda *_a: [(2, 1, 6, "", ("192.0.2.7", 0))])
    assert detect_localnets() == ("192.0.2.7/32", "127.0.0.1/8")
    assert detect_localnets(ignore_loopback=True) == ("192.0.2.7/32",)


def test_detect_localnets_real_host() -> None:
    nets = detect_localnets()
    assert nets and all("/" in net for net in nets)


def test_configured_localnets_win_over_detection(tmp_path: Path) -> None:
    assert load(tmp_path, base()).localnets == ("10.0.0.0/8",)


# --------------------------------------------------------------------------- access control


def test_access_control_defaults_to_no_rules(tmp_path: Path) -> None:
    assert load(tmp_path, base()).access_control == AccessControl((), ())


def test_access_control_from_the_file(tmp_path: Path) -> None:
    data = base()
    data["spec"]["accessControl"] = {"allow": ["10.0.0.0/8", "2001:db8::/32"], "deny": ["10.1.2.3/32"]}
    config = load(tmp_path, data)
    assert config.access_control == AccessControl(("10.0.0.0/8", "2001:db8::/32"), ("10.1.2.3/32",))


def test_access_control_lists_are_optional(tmp_path: Path) -> None:
    data = base()
    data["spec"]["accessControl"] = {"deny": ["192.0.2.0/24"]}
    assert load(tmp_path, data).access_control == AccessControl((), ("192.0.2.0/24",))


def test_access_control_errors_name_their_path(tmp_path: Path) -> None:
    data = base()
    data["spec"]["accessControl"] = {"allow": ["10.0.0.0/8", "10.0.0.1"], "block": []}
    errors = errors_of(write_yaml(tmp_path, data))
    path = tmp_path / "edgeport.yaml"
    assert sorted(errors) == sorted([
        f"{path}: spec.accessControl.allow[1]: '10.0.0.1' is not a CIDR network (e.g. 10.0.0.0/8)",
        f"{path}: spec.accessControl.block: Unknown field.",
    ])


def test_env_access_lists_replace_the_file(tmp_path: Path) -> None:
    data = base()
    data["spec"]["accessControl"] = {"allow": ["10.0.0.0/8"], "deny": ["10.1.0.0/16"]}
    config = load(tmp_path, data, {"ACCESS_ALLOW": "192.168.0.0/16, 172.16.0.0/12,", "ACCESS_DENY": ""})
    assert config.access_control == AccessControl(("192.168.0.0/16", "172.16.0.0/12"), ("10.1.0.0/16",))
    config = load(tmp_path, base(), {"ACCESS_DENY": "203.0.113.0/24"})
    assert config.access_control == AccessControl((), ("203.0.113.0/24",))


def test_env_access_lists_invalid(tmp_path: Path) -> None:
    env = {"ACCESS_ALLOW": "10.0.0.0/8,bogus", "ACCESS_DENY": "x/99"}
    errors = errors_of(write_yaml(tmp_path, base()), env)
    assert errors == [
        "env:ACCESS_ALLOW: 'bogus' is not a CIDR network (e.g. 10.0.0.0/8)",
        "env:ACCESS_DENY: 'x/99' is not a CIDR network (e.g. 10.0.0.0/8)",
    ]


def test_the_event_buffer_comes_from_the_limits(tmp_path):
    data = base()
    data["spec"]["limits"] = {"maxQueuedEvents": 25}
    env = {"CONSOLE_PUBLISHER_ENABLED": "true", "NATS_PUBLISHER_ENABLED": "true",
           "NATS_PUBLISHER_URL": "nats://127.0.0.1:4222"}
    config = load(tmp_path, data, env)
    assert config.limits.max_queued_events == 25
    bus = EventBus.from_config(config)  # built, not started: nothing connects
    assert bus.enabled and bus._nats.buffer_size == 25
    assert EventBus.from_config(load(tmp_path, base(), env))._nats.buffer_size == 10_000
    data["spec"]["limits"] = {"maxQueuedEvents": 0}
    assert errors_of(write_yaml(tmp_path, data)) == [
        f"{tmp_path / 'edgeport.yaml'}: spec.limits.maxQueuedEvents: must be at least 1"
    ]


def test_timer_c_is_three_minutes_unless_set(tmp_path):
    assert load(tmp_path, base(), {}).timers.c == 180
    data = base()
    data["spec"]["timers"] = {"c": 240}
    assert load(tmp_path, data, {}).timers.c == 240


def test_max_processor_delay_is_off_unless_set(tmp_path):
    assert load(tmp_path, base(), {}).limits.max_processor_delay == 0
    data = base()
    data["spec"]["limits"] = {"maxProcessorDelay": 0.25}
    assert load(tmp_path, data, {}).limits.max_processor_delay == 0.25
    data["spec"]["limits"] = {"maxProcessorDelay": -1}
    assert errors_of(write_yaml(tmp_path, data)) == [
        f"{tmp_path / 'edgeport.yaml'}: spec.limits.maxProcessorDelay: must be 0 (off) or greater"
    ]
