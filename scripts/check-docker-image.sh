#!/usr/bin/env bash
# No Docker engine runs here, so this replays the Dockerfile's steps on this machine:
# a fresh virtualenv from requirements.txt alone (the image's only install step), only the
# files the Dockerfile copies, its CMD against the config it installs (ports moved to free
# ones), then a SIP OPTIONS over UDP and GET /healthz must both be answered.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q --disable-pip-version-check -r requirements.txt
mkdir -p "$work/opt" "$work/etc"
cp -r edgeport.py edgeport_lib "$work/opt/"      # COPY edgeport.py / edgeport_lib
py="$work/venv/bin/python"
ports=$("$py" -c 'import socket
s=[socket.socket() for _ in range(3)]
[x.bind(("127.0.0.1", 0)) for x in s]
print(" ".join(str(x.getsockname()[1]) for x in s))')
read -r sip grpc http <<<"$ports"
sed -e "s/port: 5060/port: $sip/g" -e "s/127.0.0.1:51904/127.0.0.1:$grpc/" -e "s/port: 8080/port: $http/" \
  config.example.yaml > "$work/etc/edgeport.yaml"  # COPY config.example.yaml /etc/routr/edgeport.yaml

cd "$work/opt"
"$py" -m edgeport_lib.reference_processor --bind "127.0.0.1:$grpc" > "$work/processor.log" 2>&1 &
pids+=($!)
ENABLE_HEALTHCHECKS=true GRPC_ENABLE_FORK_SUPPORT=0 "$py" edgeport.py "$work/etc/edgeport.yaml" \
  > "$work/edgeport.log" 2>&1 &                    # CMD ["python", "edgeport.py", ...]
pids+=($!)

"$py" - "$sip" "$http" <<'PY'
import json, socket, sys, time, urllib.request
sip, http = int(sys.argv[1]), int(sys.argv[2])
options = ("OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKcheck;rport\r\n"
           "From: <sip:check@127.0.0.1>;tag=1\r\nTo: <sip:127.0.0.1>\r\nCall-ID: docker-check\r\n"
           "CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n").encode()
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.settimeout(1)
deadline = time.monotonic() + 30
while True:
    try:
        sock.sendto(options, ("127.0.0.1", sip))
        answer = sock.recv(65535).decode(errors="replace").split("\r\n")[0]
        if answer.startswith("SIP/2.0 200"):
            break
    except OSError:
        answer = "no answer"
    if time.monotonic() > deadline:
        sys.exit(f"OPTIONS not answered 200 (last: {answer})")
while True:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{http}/healthz", timeout=2) as response:
            print("OPTIONS:", answer, "| /healthz:", response.status, json.loads(response.read()))
            break
    except OSError as error:
        if time.monotonic() > deadline:
            sys.exit(f"/healthz not green: {error}")
        time.sleep(0.5)
PY
echo "Dockerfile steps check: OK"
