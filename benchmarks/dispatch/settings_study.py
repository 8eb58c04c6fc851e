"""The solver-settings study behind section 1 of RESULTS.md (OR-Tools operators, PyVRP parameters).

    .venv/bin/python benchmarks/dispatch/settings_study.py CONFIG [--all] [--jobs 2]
    .venv/bin/python benchmarks/dispatch/settings_study.py --list

Runs one named configuration on the 14 Solomon instances where OR-Tools did worst (or, with
``--all``, on all 56; ``--pyvrp-hard`` for the 8 where PyVRP did worst) at 10 s each and appends
one JSON line per configuration to ``results/settings_study.jsonl`` next to this file: per-instance gap
to the best known solution, feasibility, seconds and status. The recorded lines come from a
quiet 2-core machine, two runs at a time. Gaps differ by a few tenths from run to run (time
limits are wall clock), so read small differences on 14 instances as noise.
"""

from __future__ import annotations

import argparse
import json
import sys
from multiprocessing import Pool
from pathlib import Path
from typing import Any

from engine.dispatch.vrptw import solve_vrptw_file
from engine.solver import Settings

HERE = Path(__file__).resolve().parent
SOLOMON = HERE.parents[1] / ".." / "shared" / "data" / "vrptw" / "solomon" / "solomon_format"
HARD = "C103 C203 R104 R107 R108 R109 R206 R207 R211 RC103 RC104 RC107 RC204 RC208".split()
PYVRP_HARD = "RC108 RC102 RC101 R210 R211 R206 R108 R112".split()

_NO_LNS = ("use_global_cheapest_insertion_path_lns: BOOL_FALSE use_local_cheapest_insertion_path_lns: BOOL_FALSE "
           "use_relocate_path_global_cheapest_insertion_insert_unperformed: BOOL_FALSE "
           "use_global_cheapest_insertion_visit_types_lns: BOOL_FALSE use_local_cheapest_insertion_visit_types_lns: BOOL_FALSE")
_LEAN = (_NO_LNS + " use_lin_kernighan: BOOL_FALSE use_relocate_expensive_chain: BOOL_FALSE use_relocate_subtrip: BOOL_FALSE "
         "use_exchange_subtrip: BOOL_FALSE use_relocate_pair: BOOL_FALSE use_exchange_pair: BOOL_FALSE "
         "use_light_relocate_pair: BOOL_FALSE use_make_active: BOOL_FALSE use_make_inactive: BOOL_FALSE "
         "use_make_chain_inactive: BOOL_FALSE use_swap_active: BOOL_FALSE use_shortest_path_swap_active: BOOL_FALSE "
         "use_swap_active_chain: BOOL_FALSE use_shortest_path_two_opt: BOOL_FALSE")
_LEANX = _LEAN + " use_cross_exchange: BOOL_TRUE use_relocate_neighbors: BOOL_TRUE"
_SISR = ("use_iterated_local_search: true iterated_local_search_parameters { ruin_recreate_parameters { "
         "ruin_strategies { sisr { max_removed_sequence_size: 10 avg_num_removed_visits: 10 bypass_factor: 0.01 } } "
         "recreate_strategy { heuristic: PARALLEL_CHEAPEST_INSERTION } } }")


def _ort(first: str, meta: str = "GUIDED_LOCAL_SEARCH", params: str = "", ops: str = "ortools") -> dict[str, Any]:
    o: dict[str, Any] = {"first_solution": first, "metaheuristic": meta, "operators": ops}
    if params:
        o["search_params"] = params
    return {"backend": "ortools", "options": o}


def _pyv(**solve_params: dict[str, Any]) -> dict[str, Any]:
    return {"backend": "pyvrp", "options": {"solve_params": solve_params} if solve_params else {}}


PCI, LCI = "PARALLEL_CHEAPEST_INSERTION", "LOCAL_CHEAPEST_INSERTION"
CONFIGS: dict[str, dict[str, Any]] = {
    "ortools-pci-gls-default-ops": _ort(PCI),
    "ortools-pci-gls-no-lns": _ort(PCI, params=f"local_search_operators {{ {_NO_LNS} }}"),
    "ortools-pci-gls-lean": _ort(PCI, params=f"local_search_operators {{ {_LEAN} }}"),
    "ortools-pci-gls-tuned": _ort(PCI, ops="tuned"),
    "ortools-lci-gls-tuned": _ort(LCI, ops="tuned"),
    "ortools-savings-gls-tuned": _ort("SAVINGS", ops="tuned"),
    "ortools-pci-gls-no-lns-lambda0.05": _ort(PCI, params=f"guided_local_search_lambda_coefficient: 0.05 local_search_operators {{ {_NO_LNS} }}"),
    "ortools-pci-gls-no-lns-lambda0.2": _ort(PCI, params=f"guided_local_search_lambda_coefficient: 0.2 local_search_operators {{ {_NO_LNS} }}"),
    "ortools-pci-gls-tuned-lambda0.2": _ort(PCI, params="guided_local_search_lambda_coefficient: 0.2", ops="tuned"),
    "ortools-pci-gls-tuned-lambda0.3": _ort(PCI, params="guided_local_search_lambda_coefficient: 0.3", ops="tuned"),
    "ortools-pci-sa-no-lns": _ort(PCI, "SIMULATED_ANNEALING", f"local_search_operators {{ {_NO_LNS} }}"),
    "ortools-pci-tabu-no-lns": _ort(PCI, "TABU_SEARCH", f"local_search_operators {{ {_NO_LNS} }}"),
    "ortools-pci-ils-sisr": _ort(PCI, "GREEDY_DESCENT", _SISR),
    "ortools-pci-gls-neighbors0.1": _ort(PCI, params="ls_operator_neighbors_ratio: 0.1 ls_operator_min_neighbors: 10"),
    "ortools-pci-gls-neighbors0.2": _ort(PCI, params="ls_operator_neighbors_ratio: 0.2 ls_operator_min_neighbors: 10"),
    "pyvrp-default": _pyv(),
    "pyvrp-history100": _pyv(ils={"history_length": 100}),
    "pyvrp-history1000": _pyv(ils={"history_length": 1000}),
    "pyvrp-neighbours30": _pyv(neighbourhood={"num_neighbours": 30}),
    "pyvrp-neighbours80": _pyv(neighbourhood={"num_neighbours": 80}),
    "pyvrp-perturb10": _pyv(perturbation={"max_perturbations": 10}),
    "pyvrp-perturb50": _pyv(perturbation={"max_perturbations": 50}),
    "pyvrp-target-feasible0.4": _pyv(penalty={"target_feasible": 0.4}),
    "pyvrp-restart2000": _pyv(ils={"num_iters_no_improvement": 2000}),
    "pyvrp-restart8000": _pyv(ils={"num_iters_no_improvement": 8000}),
}


def _one(args: tuple[str, dict[str, Any], float, int, int]) -> dict[str, Any]:
    inst, cfg, limit, seed, threads = args
    s = Settings(backend=cfg["backend"], time_limit=limit, seed=seed, threads=threads, options=cfg["options"])
    r = solve_vrptw_file(SOLOMON / f"{inst}.txt", s)
    return {k: r[k] for k in ("instance", "gap", "feasible", "seconds", "status", "distance", "vehicles")}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("config", nargs="?", choices=sorted(CONFIGS))
    ap.add_argument("--all", action="store_true", help="all 56 instances")
    ap.add_argument("--pyvrp-hard", action="store_true", help="the 8 instances where PyVRP did worst")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1, help="portfolio size per run (then use --jobs 1)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--time-limit", type=float, default=10.0)
    ap.add_argument("--list", action="store_true")
    a = ap.parse_args(argv)
    if a.list or not a.config:
        print("\n".join(sorted(CONFIGS)))
        return 0
    names = (sorted(p.stem for p in SOLOMON.glob("*.txt")) if a.all else PYVRP_HARD if a.pyvrp_hard else HARD)
    work = [(n, CONFIGS[a.config], a.time_limit, a.seed, a.threads) for n in names]
    if a.jobs == 1:
        rows = [_one(w) for w in work]
    else:
        with Pool(a.jobs) as pool:
            rows = pool.map(_one, work, chunksize=1)
    gaps = [100 * r["gap"] for r in rows if r["gap"] is not None]
    line = {"config": a.config, "instances": len(rows), "threads": a.threads, "seed": a.seed,
            "time_limit": a.time_limit, "mean_gap_pct": sum(gaps) / len(gaps),
            "feasible": sum(r["feasible"] for r in rows), "runs": rows}
    with open(HERE / "results" / "settings_study.jsonl", "a") as fh:
        fh.write(json.dumps(line) + "\n")
    print(f"{a.config}: mean gap {line['mean_gap_pct']:.3f}% over {len(rows)} instances, "
          f"{line['feasible']} feasible")
    return 0


if __name__ == "__main__":
    sys.exit(main())
