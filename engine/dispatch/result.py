"""The dispatch result: one row per order, one row per stop, a cost breakdown and stats."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from engine.solver import SolveStats

if TYPE_CHECKING:
    from engine.dispatch.problem import DispatchProblem

ASSIGNMENT_COLUMNS = ["order", "status", "courier", "courier_kind", "warehouse", "trip", "stop_seq",
                      "depart_min", "arrive_min", "due_min", "late_min", "reason"]
ROUTE_COLUMNS = ["courier", "courier_kind", "trip", "seq", "kind", "order", "lat", "lon",
                 "arrive_min", "depart_min", "load_m3", "km_from_prev"]
COST_KEYS = ("fixed", "distance", "time", "per_delivery", "guarantee", "unserved_penalty", "lateness")


def cost_breakdown(*, fixed: float, distance: float, time: float, per_delivery: float,
                   unserved: float, lateness: float, guarantee: float = 0.0) -> dict[str, float]:
    """The cost components and their total (operating = all but the penalties).

    ``guarantee`` is the top-up paid to couriers whose per-delivery pay stays below their
    guaranteed hourly minimum (see :meth:`~engine.dispatch.problem.DispatchProblem.pay_parts`).
    """
    c = {"fixed": fixed, "distance": distance, "time": time, "per_delivery": per_delivery,
         "guarantee": guarantee, "unserved_penalty": unserved, "lateness": lateness}
    c = {k: float(round(v, 6)) for k, v in c.items()}
    c["operating"] = round(fixed + distance + time + per_delivery + guarantee, 6)
    c["total"] = round(c["operating"] + unserved + lateness, 6)
    return c


@dataclass(frozen=True, slots=True)
class DispatchResult:
    """Routes and assignments of a dispatch plan.

    ``assignments`` has one row per input order (``ASSIGNMENT_COLUMNS``), ``routes`` one
    row per stop (``ROUTE_COLUMNS`` plus ``warehouse`` on pickup rows and ``loc``, the
    location index in ``problem``). ``cost`` holds the components of ``COST_KEYS`` plus
    ``operating`` and ``total``. ``stats.objective`` is the planning objective (total cost
    plus the expected cost of crowd declines); heuristics report ``bound=None``.
    """

    assignments: pd.DataFrame
    routes: pd.DataFrame
    cost: dict[str, float]
    stats: SolveStats
    problem: DispatchProblem | None = field(default=None, repr=False, compare=False)
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        missing = [c for c in ASSIGNMENT_COLUMNS if c not in self.assignments.columns]
        missing += [c for c in ROUTE_COLUMNS if c not in self.routes.columns]
        if missing:
            raise ValueError(f"DispatchResult: missing columns {missing}")

    # ---- headline numbers --------------------------------------------------------------
    def headline(self) -> dict[str, Any]:
        a = self.assignments
        served = a["status"] == "served"
        on_time = served & (a["late_min"].fillna(0) <= 1e-6)
        n = len(a)
        return {
            "orders": int(n),
            "served": int(served.sum()),
            "served_on_time": int(on_time.sum()),
            "on_time_share": float(on_time.sum() / n) if n else 1.0,
            "by_fleet": int((served & (a["courier_kind"] == "fleet")).sum()),
            "by_crowd": int((served & (a["courier_kind"] == "crowd")).sum()),
            "unserved": int((~served).sum()),
            "cost_total": float(self.cost["total"]),
            "cost_operating": float(self.cost["operating"]),
            "cost_per_served_order": float(self.cost["operating"] / served.sum()) if served.any() else None,
            "distance_km": float(self.routes["km_from_prev"].sum()) if len(self.routes) else 0.0,
            "couriers_used": int(self.routes["courier"].nunique()) if len(self.routes) else 0,
            "status": str(self.stats.status),
            "backend": self.stats.backend,
        }

    def summary(self) -> str:
        h = self.headline()
        lines = [
            f"dispatch [{h['backend']}] status={h['status']}  wall={self.stats.wall_seconds:.2f}s",
            f"  orders {h['orders']}: served on time {h['served_on_time']} "
            f"(fleet {h['by_fleet']}, crowd {h['by_crowd']}), unserved {h['unserved']}",
            f"  cost {h['cost_total']:.2f} (operating {h['cost_operating']:.2f}, "
            f"unserved penalty {self.cost['unserved_penalty']:.2f}), distance {h['distance_km']:.1f} km, "
            f"couriers used {h['couriers_used']}",
        ]
        reasons = self.assignments.loc[self.assignments["status"] == "unserved", "reason"].value_counts()
        for r, k in reasons.items():
            lines.append(f"  unserved: {k} × {r}")
        return "\n".join(lines)

    def to_frame(self) -> pd.DataFrame:
        """The tidy per-order table (``assignments``)."""
        return self.assignments.copy()

    def to_dict(self) -> dict[str, Any]:
        def records(df: pd.DataFrame) -> list[dict[str, Any]]:
            out = df.astype(object).where(df.notna(), None).to_dict(orient="records")
            for r in out:
                for k, v in r.items():
                    if isinstance(v, np.generic):
                        r[k] = v.item()
            return out

        return {
            "headline": self.headline(),
            "cost": dict(self.cost),
            "stats": self.stats.to_dict(),
            "meta": {k: (v.item() if isinstance(v, np.generic) else v) for k, v in self.meta.items()},
            "assignments": records(self.assignments),
            "routes": records(self.routes[ROUTE_COLUMNS]),
        }
