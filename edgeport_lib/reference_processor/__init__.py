"""A small registrar and proxy speaking Routr's Processor gRPC service.

It plays the part of Routr's Connect processor for the quick start and the end-to-end tests,
and only ever sees the protobufs of the wire contract (never SIP text):

- ``messages``: helpers over the protobufs (answers, the EdgePort's own address, next hop).
- ``registrar``: REGISTER handling and the binding store.
- ``router``: where a request goes (loose routing, dialogs, bindings, static routes).
- ``processor``: one entry point, ``ReferenceProcessor.handle(MessageRequest)``.
- ``server``: the gRPC server around it; ``__main__`` is the command line.
"""

from .processor import ReferenceProcessor

__all__ = ["ReferenceProcessor"]
