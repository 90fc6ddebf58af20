"""Command line entry: `python edgeport.py config.yaml` (or `python -m edgeport_lib`).

gevent must patch the standard library before anything else is imported, and gRPC must be told
about gevent before any channel exists: gevent_setup does both, imported first.
"""

from . import gevent_setup  # noqa: F401, I001  (first: patches the standard library, sets up gRPC)

import argparse  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402

import gevent  # noqa: E402

from . import __version__  # noqa: E402
from .app import EdgePortApp, UnsupportedTransport  # noqa: E402
from .config import Config, ConfigError, load_config  # noqa: E402
from .ops import setup_logging  # noqa: E402
from .security import SecurityError  # noqa: E402
from .workers import Supervisor, Worker, worker_count  # noqa: E402

EXIT_CONFIG = 2


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="edgeport", description="EdgePort: a SIP edge server for Routr")
    parser.add_argument("config", help="configuration file (YAML or JSON)")
    parser.add_argument("--check-config", action="store_true", help="validate the configuration and exit")
    parser.add_argument("--version", action="version", version=f"edgeport {__version__}")
    parser.add_argument("--log-format", choices=("text", "json"), default=None,
                        help="log line format (default: $LOGS_FORMAT, else text)")
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help="N processes sharing the ports (default: $EDGEPORT_WORKERS, else 1)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    setup_logging(fmt=args.log_format)
    try:
        config = load_config(args.config)
    except ConfigError as error:
        print(f"edgeport: invalid configuration\n{error}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        workers = worker_count(args.workers, config)
    except ValueError as error:
        print(f"edgeport: {error}", file=sys.stderr)
        return EXIT_CONFIG
    if args.check_config:
        print(f"{args.config}: configuration OK")
        return 0
    if workers > 1:
        return Supervisor(config, workers, run).run()
    return run(config)


def run(config: Config, worker: Worker | None = None) -> int:
    """Serve until SIGTERM/SIGINT: the whole EdgePort, or one worker of several (after the fork)."""
    try:
        app = EdgePortApp(config)
    except (UnsupportedTransport, SecurityError) as error:
        print(f"edgeport: {error}", file=sys.stderr)
        return EXIT_CONFIG
    if worker is not None:
        try:
            worker.attach(app)  # binds the shared ports (SO_REUSEPORT)
        except OSError as error:
            print(f"edgeport: cannot listen: {error}", file=sys.stderr)
            return 1
    for signum in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(signum, app.stop)
    try:
        app.serve_forever(on_ready=worker.ready if worker is not None else None)
    except OSError as error:
        print(f"edgeport: cannot listen: {error}", file=sys.stderr)
        return 1
    return 0
