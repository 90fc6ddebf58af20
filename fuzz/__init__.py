"""Fuzzing of the SIP parser, the stream framer and what the edge does with their output.

`targets.py` holds the oracles (what must hold for any input) and the corpus-seeded mutator;
`fuzz_parser.py` is the long run (`python fuzz/fuzz_parser.py --minutes N`);
`tests/unit/test_fuzz_short.py` is the short run in the test suite.
"""
