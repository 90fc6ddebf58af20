"""The reference processor, except that every request it forwards comes back with one header broken.

    python tests/e2e/breaking_processor.py --bind 127.0.0.1:PORT --routes routes.yaml --break call-id

--break call-id empties the Call-ID; --break cseq gives the CSeq another method. For the e2e
test that EdgePort answers such a processor with 500 and sends nothing on.
"""

from __future__ import annotations

import argparse
import signal

from edgeport_lib.protocol import processor_pb2
from edgeport_lib.reference_processor.processor import ReferenceProcessor
from edgeport_lib.reference_processor.router import load_routes
from edgeport_lib.reference_processor.server import start_server


def _empty_call_id(message) -> None:
    message.call_id.call_id = ""


def _cseq_of_another_method(message) -> None:
    for extension in message.extensions:
        if extension.name.lower() == "cseq":
            extension.value = extension.value.split()[0] + " OPTIONS"


BREAKAGES = {"call-id": _empty_call_id, "cseq": _cseq_of_another_method}


class BreakingProcessor(ReferenceProcessor):
    def __init__(self, routes, breakage) -> None:
        super().__init__(routes)
        self.breakage = breakage

    def handle(self, request: processor_pb2.MessageRequest) -> processor_pb2.MessageResponse:
        answer = super().handle(request)
        if answer.message.WhichOneof("message_type") == "request_uri":
            self.breakage(answer.message)
        return answer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bind", required=True)
    parser.add_argument("--routes", required=True)
    parser.add_argument("--break", dest="breakage", choices=sorted(BREAKAGES), required=True)
    args = parser.parse_args()
    processor = BreakingProcessor(load_routes(args.routes), BREAKAGES[args.breakage])
    server, port = start_server(args.bind, processor)
    signal.signal(signal.SIGTERM, lambda *_: server.stop(1))
    print(f"breaking processor listening on port {port}", flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    main()
