"""EdgePort: a SIP edge server speaking the Routr v2 processor protocol."""

__version__ = "0.1.0"
