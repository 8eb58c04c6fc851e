"""Fleet-only vs crowd-only vs mixed couriers on generated peaks (and the shipped instance).

    .venv/bin/python benchmarks/dispatch/fleet_crowd.py --seeds 5 --out benchmarks/dispatch/results/fleet_crowd.csv

Each policy plans the same seeded arrivals in waves with declines drawn from the couriers'
acceptance probabilities. Cost = operating cost + unserved penalties (the planning objective).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from engine.dispatch import check_solution
from engine.dispatch.day import plan_problem_day
from engine.dispatch.study import restrict, service_metrics, synthetic_problem
from engine.io import atomic_write_frame
from engine.solver import Settings

POLICIES = ("fleet", "crowd", "mixed")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--orders", type=int, default=200)
    ap.add_argument("--fleet", type=int, default=8)
    ap.add_argument("--crowd", type=int, default=14)
    ap.add_argument("--radius", type=float, default=2.5)
    ap.add_argument("--period", type=float, default=5.0)
    ap.add_argument("--backend", default="pyvrp")
    ap.add_argument("--instance", default="instances/metro-small")
    ap.add_argument("--per-order", type=float, default=0.005, help="solver seconds per pending order per re-plan")
    ap.add_argument("--equal-headcount", action="store_true", help="also a fleet as large as the mixed pool")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    st = Settings(backend=a.backend, time_limit=1.0)
    rows = []
    for seed in range(a.seeds):
        P, created = synthetic_problem(seed, n_orders=a.orders, n_fleet=a.fleet, n_crowd=a.crowd, radius_km=a.radius)
        for pol in POLICIES:
            r = plan_problem_day(restrict(P, pol), st.with_(seed=seed), period=a.period, rolling=False,
                                 created=created, simulate_declines=True, wave_time_per_order=a.per_order)
            rows.append({"case": f"synthetic seed {seed}", "policy": pol, **service_metrics(r, created),
                         "feasible": not check_solution(r.problem, r)})
        if a.equal_headcount:  # a fleet as large as the mixed pool: is it the mix or the head count?
            Pf, _ = synthetic_problem(seed, n_orders=a.orders, n_fleet=a.fleet + a.crowd, n_crowd=0,
                                      radius_km=a.radius)
            r = plan_problem_day(Pf, st.with_(seed=seed), period=a.period, rolling=False, created=created,
                                 simulate_declines=True, wave_time_per_order=a.per_order)
            rows.append({"case": f"synthetic seed {seed}", "policy": "fleet_same_headcount",
                         **service_metrics(r, created), "feasible": not check_solution(r.problem, r)})
    if Path(a.instance).exists():
        from dataclasses import replace

        from engine.dispatch import orders_for_day, plan_day
        from engine.instance import load_instance

        inst = load_instance(a.instance)
        orders = orders_for_day(inst, inst.orders["date"].min())
        views = {"fleet": replace(inst, crowd=inst.crowd.iloc[0:0]),
                 "crowd": replace(inst, fleet=inst.fleet.iloc[0:0]), "mixed": inst}
        for pol, view in views.items():
            r = plan_day(view, orders, st.with_(seed=0, options={"simulate_declines": True,
                                                                  "wave_time_per_order": a.per_order}))
            rows.append({"case": f"{inst.name} day 1", "policy": pol,
                         **service_metrics(r, orders["created_min"].to_numpy(float)),
                         "feasible": not check_solution(r.problem, r)})
    df = pd.DataFrame(rows)
    if a.out:
        atomic_write_frame(a.out, df)
    show = df[["case", "policy", "cost_total", "cost_operating", "on_time_share", "unserved", "feasible"]]
    print(show.to_string(index=False))
    piv = df.pivot_table(index="case", columns="policy", values="cost_total")
    piv["saving_vs_best_single_%"] = 100 * (1 - piv["mixed"] / piv[["fleet", "crowd"]].min(axis=1))
    if "fleet_same_headcount" in piv:
        piv["saving_vs_same_headcount_fleet_%"] = 100 * (1 - piv["mixed"] / piv["fleet_same_headcount"])
    print(piv.round(1).to_string())
    print("mean saving vs best single pool: {:.1f}%".format(piv["saving_vs_best_single_%"].mean()))


if __name__ == "__main__":
    main()
