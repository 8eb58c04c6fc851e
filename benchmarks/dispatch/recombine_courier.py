"""Route recombination on courier problems, not only on Solomon.

Each synthetic live-stream peak (``engine.dispatch.study.synthetic_problem``: 300 orders over 2 h,
3 warehouses, 9 fleet + 15 crowd couriers, optional orders with penalties, special goods, crowd
pay per delivery) is solved once as a static problem with PyVRP for ``--time-limit`` seconds,
with and without recombination, on the same seed. Cost is the engine's own evaluation (operating
cost + unserved penalties + expected decline cost); every plan goes through the checker.

    .venv/bin/python benchmarks/dispatch/recombine_courier.py --seeds 5 --time-limit 10

Writes ``benchmarks/dispatch/results/recombine_courier.csv`` (one row per peak, with machine and
date) and renders ``benchmarks/dispatch/recombine_courier.md`` from it; ``--render-only`` renders
the markdown from the committed CSV without solving anything.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
from datetime import date
from pathlib import Path

import pandas as pd

from engine.io import atomic_write_text

OUT = Path(__file__).with_name("recombine_courier.md")
CSV = Path(__file__).parent / "results" / "recombine_courier.csv"


def solve(seeds: int, time_limit: float, orders: int) -> pd.DataFrame:
    from engine.dispatch import check_solution, dispatch
    from engine.dispatch.study import synthetic_problem
    from engine.solver import Settings

    rows = []
    for seed in range(seeds):
        P, _ = synthetic_problem(seed, n_orders=orders)
        row: dict[str, object] = {"seed": seed, "orders": orders, "time_limit": time_limit}
        for share, tag in ((0.0, "search_only"), (0.25, "recombine")):
            r = dispatch(P, Settings(backend="pyvrp", time_limit=time_limit, seed=seed,
                                     options={"recombine": share}))
            issues = check_solution(P, r)
            served = int((r.assignments["status"] == "served").sum())
            row |= {f"cost_{tag}": float(r.stats.objective), f"served_{tag}": served, f"feasible_{tag}": not issues}
            print(f"seed {seed} recombine {share}: cost {r.stats.objective:.1f} served {served} "
                  f"feasible {not issues} ({r.stats.message})", flush=True)
        row |= {"machine": f"{platform.machine()}, {os.cpu_count()} cores; Python {platform.python_version()}",
                "date": date.today().isoformat()}
        rows.append(row)
    return pd.DataFrame(rows)


def render(frame: pd.DataFrame) -> str:
    seeds, tl, orders = len(frame), float(frame["time_limit"].iloc[0]), int(frame["orders"].iloc[0])
    ratios = (frame["cost_recombine"] / frame["cost_search_only"]).tolist()
    lines = [
        "# Route recombination on courier problems",
        "",
        f"Machine: {frame['machine'].iloc[0]}. Measured {frame['date'].iloc[0]} by "
        f"`python benchmarks/dispatch/recombine_courier.py --seeds {seeds} --time-limit {tl:g}`; one run at a "
        "time, one core each.",
        "",
        f"Synthetic peaks of {orders} orders (3 warehouses, 9 fleet + 15 crowd couriers, optional "
        f"orders), one static PyVRP solve of {tl:g} s each, same seed with and without "
        "recombination (`recombine` 0 and 0.25). Cost = the engine's planning objective (operating "
        "cost + unserved penalties + expected decline cost).",
        "",
        "Source: `benchmarks/dispatch/results/recombine_courier.csv` · regenerate: "
        "`python benchmarks/dispatch/recombine_courier.py --render-only`",
        "",
        "| peak (seed) | cost, search only | served | cost, with recombination | served | ratio | checker |",
        "|---|---|---|---|---|---|---|",
    ]
    for r, ratio in zip(frame.itertuples(index=False), ratios, strict=True):
        ok = "ok" if r.feasible_search_only and r.feasible_recombine else "FAILED"
        lines.append(f"| {r.seed} | {r.cost_search_only:,.1f} | {r.served_search_only} | {r.cost_recombine:,.1f} | "
                     f"{r.served_recombine} | {ratio:.4f} | {ok} |")
    lines += ["", f"Median ratio {statistics.median(ratios):.4f} (below 1: recombination cheaper); "
              f"best {min(ratios):.4f}, worst {max(ratios):.4f}.", ""]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--time-limit", type=float, default=10.0)
    ap.add_argument("--orders", type=int, default=300)
    ap.add_argument("--render-only", action="store_true", help="render the markdown from the committed CSV")
    args = ap.parse_args()
    if args.render_only:
        frame = pd.read_csv(CSV)
    else:
        frame = solve(args.seeds, args.time_limit, args.orders)
        CSV.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(CSV, frame.to_csv(index=False, lineterminator="\n"))
    text = render(frame)
    atomic_write_text(OUT, text)
    print(text)


if __name__ == "__main__":
    main()
