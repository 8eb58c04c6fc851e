"""The instant tier's dispatch policy on the shipped instances (#15.5): greedy, rolling, matching.

The measurement and the table are ``benchmarks/simulate/policies.py``'s (``nearstock run``'s
chain per instance and policy, R replications sharing one seed, paired 95% intervals against
greedy); this script only keeps its rows in a file of its own, so the simulate suite's
``results/policies.csv`` is left as it is.

    python benchmarks/dispatch/instant_policies.py --instances metro-small olist-sp-city \\
        --policies greedy rolling matching --replications 5 --seed 7   # runs, writes, prints
    python benchmarks/dispatch/instant_policies.py --render-only      # the table from the CSV
    python benchmarks/dispatch/instant_policies.py --render-only --base rolling   # vs rolling
    python benchmarks/dispatch/instant_policies.py --policies matching --update   # matching again
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path
from types import ModuleType

import pandas as pd

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "instant_policies.csv"
SOURCE_OF_POLICIES = ("`benchmarks/simulate/results/policies.csv`", "`python benchmarks/simulate/policies.py --render-only`")
SOURCE_HERE = ("`benchmarks/dispatch/results/instant_policies.csv`",
               "`python benchmarks/dispatch/instant_policies.py --render-only`")


def _policies() -> ModuleType:
    path = HERE.parent / "simulate" / "policies.py"
    spec = importlib.util.spec_from_file_location("simulate_policies", path)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def render(df: pd.DataFrame, base: str = "greedy") -> str:
    """policies.py's table (differences against ``base``), naming this script's file and command
    as its source."""
    # policies.py lists the policies' means in the order of the rows and its header puts ``base``
    # first: give it the base's rows first so the columns match
    df = df.iloc[(df["policy"] != base).to_numpy().argsort(kind="stable")]
    text = _policies().render(df, base=base)
    here = SOURCE_HERE if base == "greedy" else (SOURCE_HERE[0], SOURCE_HERE[1][:-1] + f" --base {base}`")
    for old, new in zip(SOURCE_OF_POLICIES, here, strict=True):
        text = text.replace(old, new)
    return text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--instances", nargs="+", default=["metro-small", "olist-sp-city"])
    ap.add_argument("--policies", nargs="+", default=["greedy", "rolling", "matching"])
    ap.add_argument("--replications", type=int, default=5)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--render-only", action="store_true")
    ap.add_argument("--base", default="greedy", help="the policy the others are compared with")
    ap.add_argument("--update", action="store_true",
                    help="re-measure only --policies; keep the file's rows of the other policies")
    a = ap.parse_args()
    if not a.render_only:
        df = _policies().measure(a.instances, a.policies, a.replications, a.seed)
        if a.update and RESULTS.is_file():
            old = pd.read_csv(RESULTS)
            keep = old[~(old["policy"].isin(a.policies) & old["instance"].isin(a.instances))]
            df = pd.concat([keep, df], ignore_index=True)
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        tmp = RESULTS.with_suffix(".tmp")
        df.to_csv(tmp, index=False, lineterminator="\n")
        tmp.replace(RESULTS)
    print(render(pd.read_csv(RESULTS), base=a.base))


if __name__ == "__main__":
    main()
