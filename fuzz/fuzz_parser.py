"""Long fuzzing run of the SIP parser, the stream framer and the edge's handling of their output.

    .venv/bin/python fuzz/fuzz_parser.py --minutes 10                       # corpus-seeded mutator
    .venv/bin/python fuzz/fuzz_parser.py --minutes 10 --engine hypothesis   # hypothesis, in batches
    .venv/bin/python fuzz/fuzz_parser.py --minutes 10 --engine atheris      # coverage-guided (libFuzzer)
    .venv/bin/python fuzz/fuzz_parser.py --replay fuzz/crashes/parser_0123456789.bin

Seeds come from tests/corpus/*.sip. The oracles are in fuzz/targets.py (parser, 400 reply,
request path, response path, roundtrip, framer, framing). Each distinct finding (by oracle,
exception type and place) is saved with its smallest input so far as fuzz/crashes/<oracle>_<id>.bin
plus a .txt report; with --corpus-dir tests/corpus, findings of the parser-level oracles are also
written as raw tests/corpus cases (fuzz_<oracle>_<id>.sip/.json: review the expectation before
keeping them). Findings already reported (targets.KNOWN_BUGS) are counted but not saved again.
The exit status is 1 when a new (not known) finding was made, else 0.

Engines: `mutate` (default: plain random mutation, no coverage feedback, the most inputs per
second), `hypothesis` (batches of a hypothesis test with fresh seeds; shrinks what it finds) and
`atheris` (libFuzzer coverage guidance on edgeport_lib; needs `pip install atheris`).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _targets():
    from fuzz import targets

    return targets


def _report(crashes, inputs: int, elapsed: float, out=sys.stdout) -> int:
    t = _targets()
    new = 0
    print(
        f"\n{inputs} inputs in {elapsed:.0f} s ({inputs / max(elapsed, 1e-9):.0f}/s); "
        f"{len(crashes.found)} distinct findings",
        file=out,
    )
    for signature, finding in sorted(crashes.found.items()):
        bug = t.known_bug(finding)
        new += bug is None
        label = f"known: {bug.name}" if bug else "NEW"
        print(
            f"  [{label}] x{crashes.counts[signature]} {signature}\n      {finding.detail[:200]}\n"
            f"      smallest input {len(finding.data)} bytes: {finding.data[:100]!r}",
            file=out,
        )
    if crashes.found:
        print(f"saved in {crashes.directory}", file=out)
    return 1 if new else 0


def _record(crashes, finding, verbose: bool) -> None:
    if crashes.add(finding) and verbose:
        bug = _targets().known_bug(finding)
        print(f"{'known' if bug else 'NEW'} finding: {finding.signature}: {finding.detail[:160]}", flush=True)


def run_mutate(args, crashes) -> int:
    t = _targets()
    seeds = [data for _, data in t.load_corpus()]
    rnd = random.Random(args.seed)
    deadline = time.monotonic() + args.minutes * 60
    inputs = 0
    for name, data in t.load_corpus():  # the corpus itself first, read in pieces too
        inputs += 1
        try:
            t.check(data, t.random_cuts(len(data), rnd))
        except t.Finding as finding:
            print(f"corpus file {name}: {finding.where}: {finding.detail[:160]}", flush=True)
            _record(crashes, finding, args.verbose)
    next_status = time.monotonic() + 60
    while time.monotonic() < deadline:
        data, cuts = t.generate(rnd, seeds)
        inputs += 1
        try:
            t.check(data, cuts, t.limits_for(rnd))
        except t.Finding as finding:
            _record(crashes, finding, args.verbose)
        if time.monotonic() > next_status:
            next_status += 60
            print(f"... {inputs} inputs, {len(crashes.found)} distinct findings", flush=True)
    return inputs


def run_hypothesis(args, crashes) -> int:
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import strategies as st

    t = _targets()
    seeds = [data for _, data in t.load_corpus()]
    counter = {"inputs": 0}

    @st.composite
    def fuzz_input(draw):
        rnd = draw(st.randoms(use_true_random=False))
        if draw(st.integers(0, 9)) == 0:
            data = draw(st.binary(max_size=3000))
        else:
            data = t.mutate(draw(st.sampled_from(seeds)), rnd, seeds)
        return data, t.random_cuts(len(data), rnd), t.limits_for(rnd)

    last: dict = {}

    def one(case) -> None:
        counter["inputs"] += 1
        data, cuts, limits = case
        try:
            t.check(data, cuts, limits)
        except t.Finding as finding:
            if t.known_bug(finding):
                crashes.add(finding)
                return
            last["finding"] = finding  # the last one raised is the shrunk example
            raise

    deadline = time.monotonic() + args.minutes * 60
    batch = 0
    while time.monotonic() < deadline:
        batch += 1
        test = settings(
            max_examples=args.batch,
            deadline=None,
            database=None,
            derandomize=False,
            phases=[Phase.generate, Phase.shrink],
            print_blob=False,
            suppress_health_check=list(HealthCheck),
        )(given(fuzz_input())(one))
        try:
            test()
        except t.Finding:
            _record(crashes, last.pop("finding"), args.verbose)
        except Exception as error:  # noqa: BLE001 - hypothesis wraps several failures
            finding = last.pop("finding", None)
            if finding is None:
                raise
            _record(crashes, finding, args.verbose)
            print(f"(hypothesis: {type(error).__name__})", flush=True)
    return counter["inputs"]


def run_atheris(args) -> int:
    try:
        import atheris
    except ImportError:
        sys.exit("atheris is not installed: .venv/bin/pip install atheris (or use --engine mutate)")
    with atheris.instrument_imports(include=["edgeport_lib"]):
        from fuzz import targets as t
    crashes = t.Crashes(args.crash_dir, args.corpus_dir)
    counter = {"inputs": 0}
    started = time.monotonic()
    deadline = started + args.minutes * 60

    def one(data: bytes) -> None:
        counter["inputs"] += 1
        if time.monotonic() > deadline:  # libFuzzer's own time limit would exit without our report
            code = _report(crashes, counter["inputs"], time.monotonic() - started)
            sys.stdout.flush()
            os._exit(code)
        provider = atheris.FuzzedDataProvider(data)
        mode = provider.ConsumeIntInRange(0, 3)
        cut_seed = provider.ConsumeIntInRange(0, 2**16)
        message = provider.ConsumeBytes(provider.remaining_bytes())
        cuts = t.random_cuts(len(message), random.Random(cut_seed)) if mode >= 2 else ()
        limits = t.SMALL if mode == 1 else t.DEFAULT
        try:
            t.check(message, cuts, limits)
        except t.Finding as finding:
            _record(crashes, finding, args.verbose)

    with tempfile.TemporaryDirectory(prefix="edgeport-fuzz-") as seeds_dir:
        for index, (_name, data) in enumerate(t.load_corpus()):
            for mode in range(4):
                Path(seeds_dir, f"{index}-{mode}").write_bytes(bytes([mode, 0, 0]) + data)
        libfuzzer = [sys.argv[0], seeds_dir, "-max_len=70000", f"-seed={args.seed}", "-rss_limit_mb=2048"]
        atheris.Setup(libfuzzer, one)
        atheris.Fuzz()
    return 0


def replay(paths: list[str]) -> int:
    t = _targets()
    status = 0
    for path in paths:
        data = Path(path).read_bytes()
        report = Path(path).with_suffix(".txt")
        cuts = json.loads(report.read_text()).get("cuts", []) if report.exists() else []
        try:
            t.check(data, cuts)
            print(f"{path}: passes every oracle")
        except t.Finding as finding:
            status = 1
            print(f"{path}: {finding.signature}\n  {finding.detail}\n{finding.trace}")
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=1.0, help="how long to fuzz (default 1)")
    parser.add_argument("--engine", choices=("mutate", "hypothesis", "atheris"), default="mutate")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: time based)")
    parser.add_argument("--batch", type=int, default=2000, help="hypothesis: examples per batch")
    parser.add_argument("--crash-dir", type=Path, default=None, help="where findings go (fuzz/crashes)")
    parser.add_argument(
        "--corpus-dir",
        type=Path,
        default=None,
        help="also write parser-level findings as tests/corpus cases here",
    )
    parser.add_argument("--replay", nargs="+", metavar="FILE", help="check saved inputs and exit")
    parser.add_argument("-q", "--quiet", dest="verbose", action="store_false")
    args = parser.parse_args(argv)
    if args.replay:
        return replay(args.replay)
    args.seed = args.seed if args.seed is not None else int(time.time())
    args.crash_dir = args.crash_dir or (Path(__file__).resolve().parent / "crashes")
    print(f"fuzzing for {args.minutes:g} min with {args.engine}, seed {args.seed}", flush=True)
    if args.engine == "atheris":
        return run_atheris(args)  # imports the targets itself, under instrumentation
    t = _targets()
    crashes = t.Crashes(args.crash_dir, args.corpus_dir)
    started = time.monotonic()
    engine = run_hypothesis if args.engine == "hypothesis" else run_mutate
    inputs = engine(args, crashes)
    return _report(crashes, inputs, time.monotonic() - started)


if __name__ == "__main__":
    sys.exit(main())
