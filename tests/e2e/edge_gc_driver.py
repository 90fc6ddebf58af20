"""Runs an EdgePort in this process with the garbage collector off, for test_reclaimed.py.

    python tests/e2e/edge_gc_driver.py CONFIG

Set up as edgeport_lib/cli.py sets up EdgePort (patch_all, init_gevent), then prints
``driver ready``. Commands on stdin, one per line, each answered by one ``result ...`` line:

* ``collect SECONDS``: wait (at most SECONDS) until the edge is idle (no transaction, no open
  call), then run a full collection: ``result collected N idle|busy``, N being the objects the
  collector had to free, i.e. what finished work left behind in reference cycles.
* ``thresholds``: ``result thresholds T0 T1 T2``, the collector's thresholds as EdgePort set them.
* ``quit``.
"""

# ruff: noqa: I001
import edgeport_lib.gevent_setup  # noqa: F401  (first: gevent and gRPC set up as EdgePort does)

import gc  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402
from gevent.fileobject import FileObjectPosix  # noqa: E402

from edgeport_lib.app import EdgePortApp  # noqa: E402
from edgeport_lib.config import load_config  # noqa: E402


def collect(app: EdgePortApp, seconds: float) -> str:
    deadline = time.monotonic() + seconds
    while not app.edge.idle and time.monotonic() < deadline:
        gevent.sleep(0.05)  # polls the edge's own idle state, with a deadline
    gevent.sleep(0.2)  # let the greenlets that ended the last transactions finish
    state = "idle" if app.edge.idle else "busy"
    return f"collected {gc.collect()} {state}"


def main() -> None:
    app = EdgePortApp(load_config(sys.argv[1]))
    app.start()
    gc.collect()
    gc.disable()
    print("driver ready", flush=True)
    stdin = FileObjectPosix(sys.stdin.fileno(), "r", close=False)  # reads without blocking the hub
    for line in stdin:
        command, *args = line.split()
        if command == "quit":
            break
        if command == "collect":
            print(f"result {collect(app, float(args[0]))}", flush=True)
        elif command == "thresholds":
            print("result thresholds {} {} {}".format(*gc.get_threshold()), flush=True)
        else:
            print(f"result unknown {command}", flush=True)


if __name__ == "__main__":
    main()
