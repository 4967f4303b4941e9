"""The API under load: ``stepq dev`` beside moto_server, measured in the same run (issue 10).

    scripts/bench_api.py --seconds 60 [--clients 1]

Prints one ``api_load target=...`` line per target (StartExecution and
DescribeExecution p50/p99 in ms, sustained starts/s with each start a 3-state
Pass machine run to completion) and a last line ``api_load ratio
starts_per_s=<stepq / moto_server> goal=met|not met``. See
``stepq.bench.api_load`` for the method; figures in docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "shared"))

from stepq.bench.api_load import run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="load per target")
    parser.add_argument("--clients", type=int, default=1, help="client threads per target")
    parser.add_argument("--rounds", type=int, default=6, help="turns per target (alternating)")
    args = parser.parse_args()
    log = lambda text: print(text, file=sys.stderr)  # noqa: E731
    for line in run(args.seconds, args.clients, log=log, rounds=args.rounds):
        print(line, flush=True)


if __name__ == "__main__":
    main()
