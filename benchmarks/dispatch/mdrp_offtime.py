"""Diagnostic: the ``matching`` policy under the MDRP off-time rule, before the model has it (#15.1).

    python benchmarks/dispatch/mdrp_offtime.py --out benchmarks/dispatch/results/mdrp_offtime_matching.csv \\
        --stops-out benchmarks/dispatch/results/mdrp_offtime_matching_stops.csv.gz 0o100t100s1p100 ...

The routing model bounds a courier's *last drop-off* by ``end_min`` (= off time); the instances'
rule bounds the *pickup* (none after the off time) and lets drop-offs finish later. Until the
model has a latest pickup start, this script stands one in: the day problem gets a
``pickup_end`` (= off time) that ``engine.dispatch.matching.time_model`` reads, and its
``end_min`` moves to off time + the maximum click-to-door (so the execution's checker does not
cut the drop-offs). The policy never starts a pickup after the off time; the stops written here
pass the independent checker of tests/bench/test_mdrp.py, which reads only the instance files.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data" / "courier" / "mdrp"
sys.path.insert(0, str(REPO))

from engine.bench.mdrp import (  # noqa: E402
    ROW_COLUMNS,
    executed_stops,
    execution_params,
    instance_row,
    read_mdrp,
)
from engine.dispatch.matching import MatchingPolicy  # noqa: E402
from engine.dispatch.problem import DispatchProblem  # noqa: E402
from engine.simulate.execute import execute_problem_day  # noqa: E402


class _WithPickupEnd(DispatchProblem):
    """The day problem with room for the stand-in ``pickup_end`` attribute."""


def run(name: str) -> tuple[dict[str, object], pd.DataFrame]:
    inst = read_mdrp(DATA / name)
    P = inst.problem
    Q = _WithPickupEnd(**{f.name: getattr(P, f.name) for f in dataclasses.fields(P)})
    Q = dataclasses.replace(Q, end_min=P.end_min + inst.rules.max_min)
    object.__setattr__(Q, "pickup_end", P.end_min.copy())
    pol = MatchingPolicy(period=2.0, pickup_service_min=inst.rules.pickup_service_min, name="matching-offtime")
    day = execute_problem_day(Q, inst.created, pol, execution_params(inst.rules), seed=0)
    stops = executed_stops(inst, day)
    return instance_row(inst, day, stops), stops


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("instances", nargs="+")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--stops-out", type=Path, required=True)
    a = ap.parse_args()
    rows, stops = [], []
    for name in a.instances:
        r, s = run(name)
        rows.append(r)
        stops.append(s)
        print(f"{name}: {r['delivered']}/{r['orders']} delivered, click-to-door {r['click_to_door_mean']:.1f}",
              flush=True)
    for path, df in ((a.out, pd.DataFrame(rows, columns=list(ROW_COLUMNS))),
                     (a.stops_out, pd.concat(stops, ignore_index=True))):
        tmp = path.with_name(f".{path.name}.tmp{path.suffix}")
        df.to_csv(tmp, index=False)
        tmp.replace(path)


if __name__ == "__main__":
    main()
