"""Standard VRPTW benchmarks (Solomon text and VRPLIB files) through the dispatch back-ends.

A VRPTW instance becomes a :class:`DispatchProblem` with one warehouse (the depot), one
identical fleet courier per vehicle (cost 1 per distance unit, no fixed cost, back at the
depot before it closes), and every customer an order with time window [ready, due],
service time and demand, and a prohibitive unserved penalty.

Distances follow the convention of the best-known solutions in ``bks.csv`` (DIMACS 2021 /
CVRPLIB): each arc is the Euclidean distance **truncated to one decimal**, travel time =
distance, and the objective is distance only (vehicles are not minimised first).
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.dispatch.check import check_solution
from engine.dispatch.problem import FLEET, DispatchInputError, DispatchProblem
from engine.dispatch.solve import dispatch
from engine.solver import Settings

CONVENTION = "distance only; each arc truncated to one decimal (DIMACS/CVRPLIB BKS convention)"
UNSERVED_PENALTY = 1e5


@dataclass(frozen=True, slots=True, eq=False)
class VRPTWInstance:
    """A VRPTW instance; node 0 is the depot."""

    name: str
    x: np.ndarray
    y: np.ndarray
    demand: np.ndarray
    ready: np.ndarray
    due: np.ndarray
    service: np.ndarray
    capacity: float
    vehicles: int

    @property
    def n_customers(self) -> int:
        return len(self.x) - 1

    def distances(self) -> np.ndarray:
        """Euclidean distances truncated to one decimal."""
        d = np.hypot(self.x[:, None] - self.x[None, :], self.y[:, None] - self.y[None, :])
        return np.floor(d * 10 + 1e-9) / 10


def _read_solomon(text: str, path: Path) -> VRPTWInstance:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    name = lines[0]
    try:
        vi = next(i for i, ln in enumerate(lines) if ln.upper().startswith("VEHICLE"))
        k, cap = (float(v) for v in lines[vi + 2].split()[:2])
        ci = next(i for i, ln in enumerate(lines) if ln.upper().startswith("CUSTOMER"))
        rows = [ln.split() for ln in lines[ci + 2:]]
        data = np.array([[float(v) for v in r[:7]] for r in rows if len(r) >= 7])
    except (StopIteration, ValueError, IndexError) as exc:
        raise DispatchInputError(f"{path}: not a Solomon VRPTW file ({exc})") from None
    if data.ndim != 2 or len(data) < 2:
        raise DispatchInputError(f"{path}: no customer rows found")
    return VRPTWInstance(name, data[:, 1], data[:, 2], data[:, 3], data[:, 4], data[:, 5], data[:, 6],
                         float(cap), int(k))


def _read_vrplib(text: str, path: Path) -> VRPTWInstance:
    head: dict[str, str] = {}
    sections: dict[str, list[list[float]]] = {}
    cur = None
    for raw in text.splitlines():
        ln = raw.strip()
        if not ln or ln == "EOF":
            continue
        m = re.match(r"^([A-Z_]+)\s*:\s*(.*)$", ln)
        if m and not ln.endswith("SECTION"):
            head[m.group(1)] = m.group(2).strip()
            cur = None
        elif ln.endswith("SECTION"):
            cur = ln
            sections[cur] = []
        elif cur is not None:
            try:
                sections[cur].append([float(v) for v in ln.split()])
            except ValueError:
                raise DispatchInputError(f"{path}: bad number in {cur}: {ln!r}") from None
    try:
        n = int(head["DIMENSION"])
        xy = np.array(sections["NODE_COORD_SECTION"])[:, 1:3]
        dem = np.array(sections["DEMAND_SECTION"])[:, 1]
        tw = np.array(sections["TIME_WINDOW_SECTION"])[:, 1:3]
        cap = float(head["CAPACITY"])
    except (KeyError, IndexError, ValueError) as exc:
        raise DispatchInputError(f"{path}: not a VRPLIB VRPTW file (missing {exc})") from None
    if "SERVICE_TIME_SECTION" in sections:
        svc = np.array(sections["SERVICE_TIME_SECTION"])[:, 1]
    else:
        svc = np.full(n, float(head.get("SERVICE_TIME", 0)))
    depot = int(sections.get("DEPOT_SECTION", [[1]])[0][0]) - 1
    if depot != 0:
        raise DispatchInputError(f"{path}: only depot = node 1 is supported")
    svc = svc.copy()
    svc[0] = 0.0
    if not (len(xy) == len(dem) == len(tw) == n):
        raise DispatchInputError(f"{path}: sections disagree with DIMENSION {n}")
    k = int(head.get("VEHICLES", n))
    return VRPTWInstance(head.get("NAME", path.stem), xy[:, 0], xy[:, 1], dem, tw[:, 0], tw[:, 1], svc, cap, k)


def read_vrptw(path: str | Path) -> VRPTWInstance:
    """Read a Solomon text file or a VRPLIB (CVRPTW) file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise DispatchInputError(f"{p}: cannot read: {exc}") from None
    if re.search(r"^\s*NODE_COORD_SECTION", text, re.M):
        return _read_vrplib(text, p)
    return _read_solomon(text, p)


def vrptw_problem(inst: VRPTWInstance) -> DispatchProblem:
    """The instance as a dispatch problem (see the module docstring)."""
    n, k = inst.n_customers, inst.vehicles
    d = inst.distances()
    zeros = np.zeros(n)
    return DispatchProblem(
        loc_ids=tuple(str(i) for i in range(n + 1)), loc_lat=inst.y, loc_lon=inst.x,
        dist_km=d, time_min=d, warehouse_ids=("depot",), warehouse_loc=np.array([0]),
        order_ids=tuple(str(i) for i in range(1, n + 1)), order_loc=np.arange(1, n + 1),
        order_wh=np.zeros(n, int), ready=np.full(n, inst.ready[0]), due=inst.due[1:], size=inst.demand[1:],
        service=inst.service[1:], special=np.zeros(n, bool), penalty=np.full(n, UNSERVED_PENALTY),
        open_min=inst.ready[1:], late_weight=zeros,
        courier_ids=tuple(f"v{i + 1}" for i in range(k)), courier_profile=np.full(k, FLEET),
        start_loc=np.zeros(k, int), start_min=np.full(k, inst.ready[0]), end_loc=np.zeros(k, int),
        courier_warehouse=np.zeros(k, int), capacity=np.full(k, inst.capacity), end_min=np.full(k, inst.due[0]),
        max_work=np.full(k, np.inf), fixed_cost=np.zeros(k), cost_per_km=np.ones(k), cost_per_hour=np.zeros(k),
        pay_per_delivery=np.zeros(k), may_carry_special=np.ones(k, bool), accept_prob=np.ones(k),
        name=inst.name,
    )


def load_bks(path: str | Path) -> dict[str, dict[str, Any]]:
    """``bks.csv`` (instance, vehicles, distance, …) as a dict by instance name."""
    with open(path, newline="") as fh:
        return {r["instance"]: {"distance": float(r["distance"]), "vehicles": int(r["vehicles"])}
                for r in csv.DictReader(fh)}


def find_bks(path: Path) -> dict[str, dict[str, Any]]:
    """Look for a ``bks.csv`` next to the file or one folder up."""
    for cand in (path.parent / "bks.csv", path.parent.parent / "bks.csv"):
        if cand.exists():
            return load_bks(cand)
    return {}


def solve_vrptw_file(path: str | Path, settings: Settings | None = None,
                     bks: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """Solve one VRPTW file; distance, vehicles, feasibility (own checker) and gap to the BKS."""
    settings = settings or Settings()
    p = Path(path)
    inst = read_vrptw(p)
    P = vrptw_problem(inst)
    # every customer must be served (a plain VRPTW, no prize collecting, no disjunctions); PyVRP
    # also gets costs on the same 0.1 scale as durations (as PyVRP's own "dimacs" reading; exact
    # for arcs truncated to one decimal)
    extra: dict[str, Any] = {"optional_orders": False}
    if (settings.backend or "pyvrp") == "pyvrp":
        extra["money_scale"] = 10
    settings = settings.with_(options={**extra, **settings.options})
    res = dispatch(P, settings)
    issues = check_solution(P, res)
    a = res.assignments
    served = int((a["status"] == "served").sum())
    dist = float(round(res.routes["km_from_prev"].sum(), 4)) if len(res.routes) else 0.0
    used = int(res.routes["courier"].nunique()) if len(res.routes) else 0
    table = bks if bks is not None else find_bks(p)
    ref = table.get(inst.name) or table.get(p.stem)
    gap = (dist - ref["distance"]) / ref["distance"] if ref and served == inst.n_customers else None
    return {
        "instance": inst.name, "customers": inst.n_customers, "backend": res.stats.backend,
        "time_limit": settings.time_limit, "seed": settings.seed, "status": str(res.stats.status),
        "distance": dist, "vehicles": used, "served": served,
        "feasible": bool(not issues and served == inst.n_customers),
        "issues": "; ".join(issues[:3]),
        "bks_distance": ref["distance"] if ref else None, "bks_vehicles": ref["vehicles"] if ref else None,
        "gap": None if gap is None or not math.isfinite(gap) else gap,
        "seconds": round(res.stats.wall_seconds, 3), "convention": CONVENTION,
    }
