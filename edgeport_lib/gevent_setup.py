"""Import this module before anything else: gevent patches the standard library, gRPC uses gevent.

EdgePort's entry point (cli.py) imports it first, and so do the test drivers and benches that run
gRPC the way EdgePort does. Order matters: ``GRPC_ENABLE_FORK_SUPPORT=0`` before grpc is imported,
``monkey.patch_all()`` before any other import, ``init_gevent()`` before any gRPC object exists,
then gRPC's blocking waits moved to EdgePort's own native threads (grpc_waits.py).
"""

import os

os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "0")

from gevent import monkey  # noqa: E402

monkey.patch_all()

import grpc.experimental.gevent  # noqa: E402

grpc.experimental.gevent.init_gevent()

from . import grpc_waits  # noqa: E402

grpc_waits.install()

# A greenlet would otherwise record the stack and the greenlet that spawned it, for debugging
# output EdgePort never prints: ~7 us of every spawn (bench/RESULTS.md, fourth session).
import gevent  # noqa: E402

gevent.config.track_greenlet_tree = False
