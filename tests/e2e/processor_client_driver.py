"""Drives a ProcessorClient under gevent, the way the EdgePort runs it, for the e2e tests.

    python tests/e2e/processor_client_driver.py TARGET TIMEOUT

Reads commands on stdin, one per line, and prints one ``result ...`` line for each:
``call`` (one REGISTER), ``until_ok SECONDS`` (call until one succeeds), ``burst N`` (N
concurrent calls), ``quit``. The client's log lines are printed as ``LOG LEVEL message``.
"""

# ruff: noqa: I001
import edgeport_lib.gevent_setup  # noqa: F401  (first: gevent and gRPC set up as EdgePort does)

import logging  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402
from gevent.fileobject import FileObjectPosix  # noqa: E402

from edgeport_lib.processor_client import ProcessorClient, ProcessorUnavailable  # noqa: E402
from edgeport_lib.protocol import common_pb2, processor_pb2, sipmessage_pb2  # noqa: E402


def register_request() -> processor_pb2.MessageRequest:
    """A REGISTER for alice@example.org, as EdgePort would send it (also used by ops_driver.py)."""
    uri = sipmessage_pb2.SipURI(user="alice", host="example.org", port=-1, ttl_param=-1)
    message = sipmessage_pb2.SIPMessage(request_uri=sipmessage_pb2.SipURI(host="example.org", port=-1))
    message.to.address.uri.CopyFrom(uri)
    getattr(message, "from").address.uri.CopyFrom(uri)
    message.call_id.call_id = "driver-call"
    message.via.add(host="127.0.0.1", port=5062, branch="z9hG4bK-driver", transport="UDP", r_port=-1, ttl=-1)
    message.contact.address.uri.CopyFrom(sipmessage_pb2.SipURI(user="alice", host="127.0.0.1", port=5062))
    message.contact.expires = -1
    message.contact.q_value = -1
    message.expires.expires = 60
    message.extensions.add(name="CSeq", value="1 REGISTER")
    return processor_pb2.MessageRequest(
        ref="driver-call",
        method=processor_pb2.Method.REGISTER,
        sender=processor_pb2.NetInterface(host="127.0.0.1", port=5062, transport=common_pb2.Transport.UDP),
        listening_points=[processor_pb2.NetInterface(host="127.0.0.1", port=5060)],
        message=message,
    )


def call(client: ProcessorClient) -> tuple[bool, float, str]:
    started = time.monotonic()
    try:
        response = client.process(register_request())
    except ProcessorUnavailable as error:
        return False, time.monotonic() - started, error.reason
    kind = sipmessage_pb2.ResponseType.Name(response.message.response_type)
    return True, time.monotonic() - started, kind


def main() -> None:
    target, timeout = sys.argv[1], float(sys.argv[2])
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("LOG %(levelname)s %(message)s"))
    logging.getLogger("edgeport_lib").addHandler(handler)
    logging.getLogger("edgeport_lib").setLevel(logging.INFO)

    client = ProcessorClient(target, timeout)
    stdin = FileObjectPosix(sys.stdin.fileno(), "r", close=False)  # reads without blocking the hub
    print("driver ready", flush=True)
    for line in stdin:
        command, *args = line.split()
        if command == "call":
            ok, elapsed, detail = call(client)
            print(f"result {'ok' if ok else 'unavailable'} {elapsed:.3f} {detail}", flush=True)
        elif command == "until_ok":
            deadline, attempts = time.monotonic() + float(args[0]), 0
            while True:
                attempts += 1
                ok, _, detail = call(client)
                if ok or time.monotonic() > deadline:
                    break
                gevent.sleep(0.05)
            print(f"result {'ok' if ok else 'gave_up'} attempts={attempts} {detail}", flush=True)
        elif command == "burst":
            started = time.monotonic()
            calls = [gevent.spawn(call, client) for _ in range(int(args[0]))]
            gevent.joinall(calls)
            succeeded = sum(1 for g in calls if g.value[0])
            print(f"result burst ok={succeeded} {time.monotonic() - started:.3f}", flush=True)
        elif command == "quit":
            break
    client.close()


if __name__ == "__main__":
    main()
