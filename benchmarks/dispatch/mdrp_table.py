"""Print the side-by-side MDRP table of benchmarks/dispatch/MDRP.md from the committed results.

    python benchmarks/dispatch/mdrp_table.py RESULTS.csv ...            # one row per instance and policy
    python benchmarks/dispatch/mdrp_table.py --summary RESULTS.csv ...  # one row per policy
    python benchmarks/dispatch/mdrp_table.py --by-variant RESULTS.csv ...  # per policy and variant
    python benchmarks/dispatch/mdrp_table.py --versus BASE.csv NEW.csv ... # NEW (one or more files) against BASE
                                                        # (BASE may be several files joined by commas)
    python benchmarks/dispatch/mdrp_table.py --side-by-side RESULTS.csv ... # one row per instance, policies in columns

Each RESULTS.csv is written by ``nearstock bench mdrp ... --out`` (one row per instance).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

POLICY_ORDER = ("greedy", "rolling", "waves", "matching")
COLUMNS = (
    ("instance", "instance", "{}"),
    ("policy", "policy", "{}"),
    ("orders", "orders", "{:d}"),
    ("delivered", "delivered", "{:d}"),
    ("click_to_door_mean", "click-to-door mean", "{:.1f}"),
    ("click_to_door_p90", "p90", "{:.1f}"),
    ("lower_bound_mean", "bound mean", "{:.1f}"),
    ("ratio", "mean / bound", "{:.2f}"),
    ("within_target", "≤ 40 min", "{:.1%}"),
    ("within_target_when_possible", "≤ 40 of bound ≤ 40", "{:.1%}"),
    ("ready_to_pickup_mean", "ready→pickup", "{:.1f}"),
    ("ready_to_door_mean", "ready→door", "{:.1f}"),
    ("pay_per_order", "pay / order", "{:.2f}"),
    ("couriers_on_guarantee", "on guarantee", "{:.0%}"),
    ("utilisation", "utilisation", "{:.0%}"),
    ("orders_per_trip", "orders / trip", "{:.2f}"),
    ("replan_s_p50", "re-plan s p50", "{:.3f}"),
    ("replan_s_p95", "p95", "{:.3f}"),
    ("replan_s_max", "max", "{:.3f}"),
)


def load(paths: list[Path]) -> pd.DataFrame:
    df = pd.concat([pd.read_csv(p) for p in paths], ignore_index=True)
    df["ratio"] = df["click_to_door_mean"] / df["lower_bound_mean"]
    rank = {p: i for i, p in enumerate(POLICY_ORDER)}
    df["_p"] = df["policy"].map(rank).fillna(len(rank))
    return df.sort_values(["orders", "instance", "_p"], kind="stable").drop(columns="_p")


def table(df: pd.DataFrame) -> str:
    head = "| " + " | ".join(h for _, h, _ in COLUMNS) + " |"
    rule = "|" + "|".join("---" if k in ("instance", "policy") else "---:" for k, _, _ in COLUMNS) + "|"
    rows = []
    for r in df.to_dict(orient="records"):
        cells = [
            f.format(int(r[k]) if f == "{:d}" else r[k]) if pd.notna(r[k]) else "–"
            for k, _, f in COLUMNS
        ]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join([head, rule, *rows])


def summary(df: pd.DataFrame, *, by_variant: bool = False) -> str:
    """Per policy (and instance variant: the name without its seed day) over its instances: how
    many, all delivered, delivered share, mean / bound."""
    keys = ["policy"]
    if by_variant:
        df = df.assign(variant=df["instance"].str.replace(r"^\d+", "", regex=True))
        keys.append("variant")
    head = ("| " + " | ".join(keys) + " | instances | all delivered | delivered | mean / bound: mean | min | max "
            "| ≤ 40 min: mean | ≤ 40 of bound ≤ 40: mean | pay / order: mean | re-plan p95 s: max |")
    rule = "|" + "---|" * len(keys) + "---:|" * 10
    rows = []
    for key, g in df.groupby(keys, sort=by_variant):
        name = " | ".join(key if isinstance(key, tuple) else (key,))
        rows.append(
            f"| {name} | {len(g)} | {int((g['delivered'] == g['orders']).sum())} "
            f"| {g['delivered'].sum() / g['orders'].sum():.1%} | {g['ratio'].mean():.2f} "
            f"| {g['ratio'].min():.2f} | {g['ratio'].max():.2f} | {g['within_target'].mean():.1%} "
            f"| {g['within_target_when_possible'].mean():.1%} | {g['pay_per_order'].mean():.2f} "
            f"| {g['replan_s_p95'].max():.3f} |"
        )
    return "\n".join([head, rule, *rows])


def versus(base: pd.DataFrame, new: pd.DataFrame) -> str:
    """Instance by instance, the new policy against the base one, per variant and over all: on how
    many instances its click-to-door mean is higher (worse) and how many orders it delivers more."""
    b, n = (d.set_index("instance") for d in (base, new))
    common = b.index.intersection(n.index)
    if common.empty:
        raise SystemExit("--versus: the base and the new files have no instance in common")
    b, n = b.loc[common], n.loc[common]
    d = pd.DataFrame({
        "variant": common.str.replace(r"^\d+", "", regex=True),
        "worse": n["click_to_door_mean"] > b["click_to_door_mean"] + 1e-9,
        "ctd_diff": n["click_to_door_mean"] - b["click_to_door_mean"],
        "ratio_new": n["ratio"], "ratio_base": b["ratio"],
        "more_delivered": n["delivered"] - b["delivered"],
        "all_new": n["delivered"] == n["orders"], "all_base": b["delivered"] == b["orders"],
    }, index=common)
    pb, pn = b["policy"].iloc[0], n["policy"].iloc[0]
    if pb == pn:  # one policy in two settings: [1] the base file, [2] the others
        pb, pn = f"{pb}[1]", f"{pn}[2]"
    head = (f"| variant | instances | {pn} worse on click-to-door | click-to-door {pn} − {pb}: mean | max "
            f"| mean / bound {pb} | {pn} | orders delivered {pn} − {pb} | all delivered {pb} | {pn} |")
    rule = "|---|" + "---:|" * 9
    rows = []
    groups = [*d.groupby("variant", sort=True), ("all", d)]
    for key, g in groups:
        name = f"**{key}**" if key == "all" else key
        rows.append(
            f"| {name} | {len(g)} | {int(g['worse'].sum())} | {g['ctd_diff'].mean():+.1f} | {g['ctd_diff'].max():+.1f} "
            f"| {g['ratio_base'].mean():.2f} | {g['ratio_new'].mean():.2f} | {int(g['more_delivered'].sum()):+d} "
            f"| {int(g['all_base'].sum())} | {int(g['all_new'].sum())} |"
        )
    return "\n".join([head, rule, *rows])


SIDE = (
    ("delivered", "delivered", "{:d}"),
    ("click_to_door_mean", "click-to-door mean", "{:.1f}"),
    ("ratio", "mean / bound", "{:.2f}"),
    ("within_target_when_possible", "≤ 40 of bound ≤ 40", "{:.1%}"),
    ("pay_per_order", "pay / order", "{:.2f}"),
)


def side_by_side(df: pd.DataFrame) -> str:
    """One row per instance that every policy ran, each measure with one column per policy; a
    last row over those instances (orders and deliveries summed, the rest averaged)."""
    pols = [p for p in (*POLICY_ORDER, *sorted(set(df["policy"]) - set(POLICY_ORDER))) if p in set(df["policy"])]
    by = {p: df[df["policy"] == p].set_index("instance") for p in pols}
    common = [i for i in dict.fromkeys(df["instance"]) if all(i in by[p].index for p in pols)]
    head = "| instance | orders | " + " | ".join(f"{h}: {p}" if k == 0 else p for _, h, _ in SIDE
                                                 for k, p in enumerate(pols)) + " |"
    rule = "|---|" + "---:|" * (1 + len(SIDE) * len(pols))

    def cells(get: object) -> list[str]:
        out = []
        for key, _, f in SIDE:
            for p in pols:
                v = get(p, key)  # type: ignore[operator]
                out.append("–" if pd.isna(v) else f.format(int(v) if f == "{:d}" else v))
        return out

    rows = []
    for i in common:
        orders = int(by[pols[0]].at[i, "orders"])
        rows.append(f"| {i} | {orders} | " + " | ".join(cells(lambda p, k, i=i: by[p].at[i, k])) + " |")
    if common:
        def total(p: str, k: str) -> float:
            col = by[p].loc[common, k]
            return float(col.sum()) if k == "delivered" else float(col.mean())

        orders = int(by[pols[0]].loc[common, "orders"].sum())
        rows.append(f"| **all {len(common)}** | {orders} | " + " | ".join(cells(total)) + " |")
    return "\n".join([head, rule, *rows])


def main(argv: list[str]) -> None:
    flags = {a for a in argv if a.startswith("--")}
    args = [a for a in argv if not a.startswith("--")]
    paths = [Path(a) for a in args]
    if not paths or flags - {"--summary", "--by-variant", "--versus", "--side-by-side"}:
        raise SystemExit(__doc__)
    if "--side-by-side" in flags:
        print(side_by_side(load(paths)))
        return
    if "--versus" in flags:
        if len(paths) < 2:
            raise SystemExit(__doc__)
        print(versus(load([Path(a) for a in args[0].split(",")]), load(paths[1:])))
        return
    df = load(paths)
    if flags:
        print(summary(df, by_variant="--by-variant" in flags))
    else:
        print(table(df))


if __name__ == "__main__":
    main(sys.argv[1:])
