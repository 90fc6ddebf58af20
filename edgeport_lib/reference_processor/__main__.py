"""``python -m edgeport_lib.reference_processor --bind 127.0.0.1:51904 [--routes routes.yaml]``"""

from __future__ import annotations

import argparse
import logging
import signal

from .processor import ReferenceProcessor
from .router import load_routes
from .server import start_server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m edgeport_lib.reference_processor", description=__doc__)
    parser.add_argument("--bind", default="0.0.0.0:51904", help="host:port to listen on (port 0: any)")
    parser.add_argument("--routes", help="YAML file: routes: {user: {host, port, transport}}")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds to sleep before every answer")
    parser.add_argument("--slow-every", type=int, default=0, metavar="N",
                        help="every Nth call (N, 2N, ...) also sleeps --slow-delay seconds (0: none)")
    parser.add_argument("--slow-delay", type=float, default=0.0, metavar="S",
                        help="seconds the calls chosen by --slow-every sleep")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )

    processor = ReferenceProcessor(load_routes(args.routes) if args.routes else None)
    server, port = start_server(args.bind, processor, args.delay, slow_every=args.slow_every,
                                slow_delay=args.slow_delay)
    signal.signal(signal.SIGTERM, lambda *_: server.stop(1))
    print(f"reference processor listening on {args.bind.rsplit(':', 1)[0]}:{port}", flush=True)
    try:
        server.wait_for_termination()
    except KeyboardInterrupt:
        server.stop(1)


if __name__ == "__main__":
    main()
