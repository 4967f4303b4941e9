"""Run the deterministic simulation of the durable runtime over many seeds (issue 9).

    scripts/simulate.py --seeds 10000 --jobs 2
    scripts/simulate.py --seed 1234              # one seed, verbose, with its trace hash
    scripts/simulate.py --seeds 200 --defect lookback

Prints what ran (executions, steps), the faults injected by kind, every
violation with its seed, and the elapsed time; the last line is exactly
``violations=<n>`` (other checks read it). Reproduce a failing seed with
``scripts/simulate.py --seed N`` or ``pytest tests/simulation --seed N``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "shared"))

from stepq.runtime.applier.config import DEFECTS
from stepq.testing.simulation import KINDS, SeedResult, run_seed

_OPTIONS: dict[str, frozenset[str]] = {}


def _init(defects: frozenset[str], kinds: frozenset[str]) -> None:
    _OPTIONS["defects"], _OPTIONS["kinds"] = defects, kinds


def _one(seed: int) -> SeedResult:
    return run_seed(seed, defects=_OPTIONS["defects"], kinds=_OPTIONS["kinds"])


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=100, help="how many seeds to run")
    parser.add_argument("--start", type=int, default=0, help="the first seed")
    parser.add_argument("--seed", type=int, help="run this one seed, verbosely")
    parser.add_argument("--jobs", type=int, default=multiprocessing.cpu_count())
    parser.add_argument(
        "--defect",
        action="append",
        default=[],
        choices=sorted(DEFECTS),
        help="switch a fixed defect of issue 9 back on (test-only RuntimeConfig.defects)",
    )
    parser.add_argument(
        "--without", action="append", default=[], choices=KINDS, help="turn a fault kind off"
    )
    parser.add_argument("--trace", action="store_true", help="print each seed's trace hash")
    parser.add_argument(
        "--known",
        type=Path,
        help="a known-failures file (tests/simulation/known_failures.json): its fault kinds "
        "are turned off and its invariants reported but not counted",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    defects = frozenset(args.defect)
    known = json.loads(args.known.read_text(encoding="utf-8")) if args.known else {}
    kinds = frozenset(KINDS) - set(args.without) - set(known.get("faults_off", {}))
    excused = set(known.get("invariants", {}))
    seeds = (
        [args.seed] if args.seed is not None else list(range(args.start, args.start + args.seeds))
    )
    verbose = args.trace or args.seed is not None
    began = time.perf_counter()
    if args.jobs > 1 and len(seeds) > 1:
        with multiprocessing.Pool(args.jobs, _init, (defects, kinds)) as pool:
            results = list(pool.imap_unordered(_one, seeds, chunksize=8))
    else:
        _init(defects, kinds)
        results = [_one(seed) for seed in seeds]
    elapsed = time.perf_counter() - began
    results.sort(key=lambda r: r.seed)
    faults: Counter[str] = Counter()
    by_invariant: Counter[str] = Counter()
    for result in results:
        faults.update(result.faults)
        by_invariant.update(v.invariant for v in result.violations)
        if verbose:
            print(
                f"seed={result.seed} trace={result.trace} executions={result.executions} "
                f"steps={result.steps} {result.seconds:.3f}s"
            )
        for violation in result.violations:
            print(f"VIOLATION {violation}")
    violations = sum(n for name, n in by_invariant.items() if name not in excused)
    failing = sorted({r.seed for r in results for v in r.violations if v.invariant not in excused})
    print(
        f"seeds={len(results)} executions={sum(r.executions for r in results)} "
        f"steps={sum(r.steps for r in results)} defects={','.join(sorted(defects)) or '-'}"
    )
    print(
        "faults injected: " + (", ".join(f"{k}={n}" for k, n in sorted(faults.items())) or "none")
    )
    print(
        "violations by invariant: "
        + (", ".join(f"{k}={n}" for k, n in sorted(by_invariant.items())) or "none")
    )
    if known:
        off = ", ".join(sorted(known.get("faults_off", {}))) or "none"
        print(
            f"known failures (not counted): invariants {', '.join(sorted(excused)) or 'none'}; faults off: {off}"
        )
    if failing:
        print(f"failing seeds ({len(failing)}): {' '.join(map(str, failing[:50]))}")
    per_seed = sum(r.seconds for r in results) / max(1, len(results))
    print(f"elapsed={elapsed:.1f}s ({per_seed:.3f}s per seed per core, jobs={args.jobs})")
    print(f"violations={violations}")
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
