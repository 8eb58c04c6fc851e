"""Value of the stochastic solution on a shipped instance, with the forecast's own scenarios.

    .venv/bin/python benchmarks/stocking/vss_instance.py [instances/metro-small] [--train 50] [--test 250]

Forecasts train + test joint scenarios, plans on the first ``--train`` (SAA, decomp back-end),
on their mean (mean-forecast plan) and by days of cover, and evaluates all plans on the other
``--test`` scenarios. Writes results/vss_<instance>.csv and VSS_<instance>.md next to this script.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from engine.forecast import forecast  # noqa: E402
from engine.instance import load_instance  # noqa: E402
from engine.io import atomic_write_text  # noqa: E402
from engine.solver import Settings  # noqa: E402
from engine.stocking import build_problem  # noqa: E402
from engine.stocking.study import split_scenarios, value_of_stochastic_solution  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("instance", nargs="?", default="instances/metro-small")
    ap.add_argument("--train", type=int, default=50)
    ap.add_argument("--test", type=int, default=250)
    ap.add_argument("--forecast", default="seasonal_naive")
    ap.add_argument("--time-limit", type=float, default=10.0)
    args = ap.parse_args()
    inst = load_instance(args.instance)
    m = inst.manifest
    k = args.train + args.test
    fc = forecast(inst.demand, horizon=m.planning.horizon_days, start=m.planning.start_date, events=inst.events,
                  n_scenarios=k, settings=Settings(backend=args.forecast, seed=m.seed))
    full = build_problem(inst, fc, scenarios=k)
    train, test = split_scenarios(full, args.train)
    frame = value_of_stochastic_solution(train, test, Settings(backend="decomp", time_limit=args.time_limit, seed=m.seed))
    here = Path(__file__).resolve().parent
    atomic_write_text(here / "results" / f"vss_{inst.name}.csv", frame.to_csv(index=False, lineterminator="\n"))
    saa = frame.loc[0, "profit"]
    rows = "".join(
        f"| {r.plan} | {100 * r.fast_fill_rate:.1f}% | {r.profit:,.2f} | {r.profit_vs_saa:,.2f} | {r.cost:,.2f} | "
        f"{r.leftover_units:,.1f} | {r.stocked_units:,.0f} |\n" for r in frame.itertuples(index=False)
    )
    text = (
        f"# Value of the stochastic solution on {inst.name}\n\n"
        f"- {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; forecast `{fc.method}` with {k} joint scenarios; "
        f"cycle {train.cycle_days} day(s); planned on {args.train}, evaluated on the other {args.test}.\n"
        f"- command: `.venv/bin/python benchmarks/stocking/vss_instance.py {args.instance} --train {args.train} --test {args.test}`\n\n"
        f"Source: `benchmarks/stocking/results/vss_{inst.name}.csv` · print it: "
        f"`python benchmarks/show.py benchmarks/stocking/results/vss_{inst.name}.csv`\n\n"
        "| plan | fast fill | profit | vs SAA | cost | leftover units | stocked units |\n|---|---|---|---|---|---|---|\n"
        + rows
        + f"\nSAA profit {saa:,.2f}; mean-forecast plan {frame.loc[1, 'profit_vs_saa']:,.2f}, "
        f"days of cover {frame.loc[2, 'profit_vs_saa']:,.2f}, newsvendor {frame.loc[3, 'profit_vs_saa']:,.2f}.\n"
    )
    atomic_write_text(here / f"VSS_{inst.name}.md", text)
    print(text)


if __name__ == "__main__":
    main()
