"""Kamailio (Debian packages kamailio + kamailio-tls-modules) as a third-party TLS SIP peer.

Debian's sipp speaks neither TLS nor WebSocket, so Kamailio relays between sipp's UDP legs and
EdgePort's TLS listener, in both directions, with OpenSSL and real certificates:

    sipp uac --UDP--> Kamailio --TLS--> EdgePort --TLS--> Kamailio --UDP--> sipp uas
                                                 \\--TCP--> sipp uas

A request arriving over UDP goes to EdgePort over TLS; one arriving over TLS goes to the UDP uas.
Kamailio record-routes (both of its sides), so ACK and BYE take the same TLS path.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from .tls_certs import Certs

MODULES = ("tm", "sl", "rr", "pv", "maxfwd", "textops", "siputils", "xlog", "tls")

CONFIG = """#!KAMAILIO
debug=2
log_stderror=yes
children=2
tcp_children=2
enable_tls=yes
auto_aliases=no
listen=udp:127.0.0.1:{udp_port}
listen=tls:127.0.0.1:{tls_port}
tcp_connection_lifetime=3605

mpath="{module_dir}"
{loadmodules}
modparam("tls", "config", "{tls_config}")
modparam("rr", "enable_double_rr", 1)

request_route {{
    if (!mf_process_maxfwd_header("10")) {{ sl_send_reply("483", "Too Many Hops"); exit; }}
    if (has_totag()) {{
        if (loose_route()) {{ t_relay(); exit; }}
        if (is_method("ACK")) {{ if (t_check_trans()) {{ t_relay(); }} exit; }}
        sl_send_reply("404", "Not here");
        exit;
    }}
    if (is_method("CANCEL")) {{ if (t_check_trans()) {{ t_relay(); }} exit; }}
    record_route();
    if ($pr == "udp") {{
        $du = "sip:127.0.0.1:{edge_tls_port};transport=tls";
    }} else {{
        $du = "sip:127.0.0.1:{uas_port};transport=udp";
    }}
    xlog("L_INFO", "relay $rm $ru from $pr to $du\\n");
    if (!t_relay()) {{ sl_reply_error(); }}
}}
"""

TLS_CONFIG = """[server:default]
method = TLSv1.2+
verify_certificate = no
require_certificate = no
certificate = {server_cert}
private_key = {server_key}
ca_list = {ca}

[client:default]
method = TLSv1.2+
verify_certificate = yes
require_certificate = yes
certificate = {client_cert}
private_key = {client_key}
ca_list = {ca}
"""


def module_dir() -> Path | None:
    for candidate in Path("/usr/lib").glob("*/kamailio/modules"):
        if (candidate / "tls.so").exists():
            return candidate
    return None


def available() -> str | None:
    """None when Kamailio with TLS can run here, else why not."""
    if shutil.which("kamailio") is None:
        return "kamailio is not installed (scripts/setup.sh installs kamailio and kamailio-tls-modules)"
    if module_dir() is None:
        return "kamailio-tls-modules is not installed (scripts/setup.sh installs it)"
    return None


@dataclass
class Kamailio:
    popen: subprocess.Popen
    udp_port: int
    tls_port: int
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)  # its own process group: it and its children
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=10)


def start_kamailio(
    workdir: Path, certs: Certs, udp_port: int, tls_port: int, edge_tls_port: int, uas_port: int
) -> Kamailio:
    workdir.mkdir(parents=True, exist_ok=True)
    tls_config = workdir / "tls.cfg"
    tls_config.write_text(
        TLS_CONFIG.format(
            server_cert=certs.server_cert,
            server_key=certs.server_key,
            ca=certs.ca,
            client_cert=certs.client_cert,
            client_key=certs.client_key,
        )
    )
    config = workdir / "kamailio.cfg"
    config.write_text(
        CONFIG.format(
            udp_port=udp_port,
            tls_port=tls_port,
            module_dir=module_dir(),
            tls_config=tls_config,
            loadmodules="\n".join(f'loadmodule "{m}.so"' for m in MODULES),
            edge_tls_port=edge_tls_port,
            uas_port=uas_port,
        )
    )
    log_path = workdir / "kamailio.log"
    with log_path.open("w") as log:
        popen = subprocess.Popen(
            ["kamailio", "-f", str(config), "-DD", "-E", "-Y", str(workdir), "-m", "64", "-M", "8"],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=workdir,
        )
    kamailio = Kamailio(popen, udp_port, tls_port, log_path)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:  # ready when its TLS port accepts connections
        if popen.poll() is not None:
            raise RuntimeError(f"kamailio exited with {popen.returncode}:\n{kamailio.log()}")
        try:
            import socket

            socket.create_connection(("127.0.0.1", tls_port), timeout=0.5).close()
            return kamailio
        except OSError:
            time.sleep(0.1)
    kamailio.stop()
    raise RuntimeError(f"kamailio did not listen on TLS {tls_port}:\n{kamailio.log()}")
