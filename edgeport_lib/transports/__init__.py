"""Thin gevent adapters that move bytes between sockets and the edge core."""
