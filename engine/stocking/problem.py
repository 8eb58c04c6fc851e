"""The stocking problem as arrays, validated once.

Sense: maximise expected profit = E[fast_value * fast-served units]
- unit_cost * stocked units - leftover_cost * E[units left over] - slotting fixed costs.
Leftover at (s, w) in scenario k is q[s,w] - sum_z x[s,w,z,k], so the objective can be written
with the per-unit "gain" g = fast_value + leftover_cost on served units and the per-unit
"charge" unit_cost + leftover_cost on stocked units; every back-end uses that form.

Starting inventory (optional, for nights of a horizon): with ``on_hand`` h[s,w] already on the
shelf, the decision q is tomorrow's stock level and its cost is piecewise linear,
keep_cost * min(q, h) + unit_cost * (q - h)+ + pull_back_cost * (h - q)+: units kept pay only
what staying costs (holding), units moved in pay transfer and handling too, units pulled back
to the central DC pay the pull-back. ``transfer_limit_m3`` caps the volume moved into each
warehouse in one night. Without ``on_hand`` (the default) the problem is the one above.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.errors import ConfigError, InfeasibleError


def _arr(x: Any, dtype: Any = float) -> np.ndarray:
    a = np.array(x, dtype=dtype, copy=True)
    a.setflags(write=False)
    return a


@dataclass(frozen=True, slots=True)
class ZoneGroups:
    """Zones merged by identical coverage: the model is exact on groups (value is per SKU)."""

    covers: np.ndarray  # (W, P) bool, every group covered by >= 1 warehouse
    zone_group: np.ndarray  # (Z,) int, group of each zone, -1 = covered by no warehouse


@dataclass(frozen=True, slots=True)
class StockingProblem:
    """Two-stage stocking problem over K demand scenarios (see module docstring)."""

    skus: tuple[str, ...]
    warehouses: tuple[str, ...]
    zones: tuple[str, ...]
    volume_m3: np.ndarray  # (S,)
    unit_value: np.ndarray  # (S,)
    fast_value: np.ndarray  # (S,) value of one unit served on the fast promise
    unit_cost: np.ndarray  # (S, W) transfer + handling + holding per unit stocked
    leftover_cost: np.ndarray  # (S,) per unit left at the end of the cycle
    demand: np.ndarray  # (S, Z, K) scenario demand over the cycle
    probability: np.ndarray  # (K,)
    covers: np.ndarray  # (W, Z) bool
    capacity_m3: np.ndarray  # (W,)
    allowed: np.ndarray  # (S, W) bool
    slotting_fixed_cost: float | np.ndarray = 0.0  # scalar or (S, W)
    min_lot: int = 0
    budget: float | None = None
    cycle_days: int = 1  # days the cycle demand covers (for the days-of-cover rule)
    notes: tuple[str, ...] = field(default=(), compare=False)
    on_hand: np.ndarray | None = None  # (S, W) units already there tonight; None = start empty
    keep_cost: np.ndarray | None = None  # (S, W) per unit kept from on_hand (default: unit_cost)
    pull_back_cost: np.ndarray | None = None  # (S, W) per unit sent back to the DC (default: 0)
    transfer_limit_m3: np.ndarray | None = None  # (W,) m3 moved in per night; None = no limit

    def __post_init__(self) -> None:
        S, W, Z = len(self.skus), len(self.warehouses), len(self.zones)
        for name in ("skus", "warehouses", "zones"):
            ids = tuple(str(v) for v in getattr(self, name))
            if len(set(ids)) != len(ids):
                raise ConfigError(f"stocking problem: duplicate ids in {name}")
            object.__setattr__(self, name, ids)
        if S == 0 or W == 0 or Z == 0:
            raise ConfigError(
                f"stocking problem needs at least one SKU, forward warehouse and zone (got S={S}, W={W}, Z={Z})"
            )
        shapes = {
            "volume_m3": (S,), "unit_value": (S,), "fast_value": (S,), "leftover_cost": (S,),
            "unit_cost": (S, W), "capacity_m3": (W,),
        }
        for name, shape in shapes.items():
            a = _arr(getattr(self, name))
            if a.shape != shape:
                raise ConfigError(f"stocking problem: {name} has shape {a.shape}, expected {shape}")
            if not np.all(np.isfinite(a)):
                raise ConfigError(f"stocking problem: {name} has non-finite values")
            object.__setattr__(self, name, a)
        d = _arr(self.demand)
        if d.ndim != 3 or d.shape[:2] != (S, Z) or d.shape[2] < 1:
            raise ConfigError(f"stocking problem: demand has shape {d.shape}, expected ({S}, {Z}, K)")
        if not np.all(np.isfinite(d)) or (d < 0).any():
            raise ConfigError("stocking problem: demand must be finite and non-negative")
        object.__setattr__(self, "demand", d)
        K = d.shape[2]
        p = _arr(self.probability)
        if p.shape != (K,) or (p < 0).any() or not np.isclose(p.sum(), 1.0, atol=1e-6):
            raise ConfigError(f"stocking problem: probability must be {K} non-negative weights summing to 1")
        object.__setattr__(self, "probability", _arr(p / p.sum()))
        for name, shape in (("covers", (W, Z)), ("allowed", (S, W))):
            a = _arr(getattr(self, name), bool)
            if a.shape != shape:
                raise ConfigError(f"stocking problem: {name} has shape {a.shape}, expected {shape}")
            object.__setattr__(self, name, a)
        for name in ("volume_m3",):
            if (getattr(self, name) <= 0).any():
                raise ConfigError("stocking problem: every SKU needs a positive unit volume")
        for name in ("unit_value", "fast_value", "leftover_cost", "unit_cost"):
            if (getattr(self, name) < 0).any():
                raise ConfigError(f"stocking problem: {name} must be non-negative")
        f = self.slotting_fixed_cost
        if np.ndim(f) == 0:
            f = float(f)
            if not (np.isfinite(f) and f >= 0):
                raise ConfigError("stocking problem: slotting_fixed_cost must be >= 0")
        else:
            f = _arr(f)
            if f.shape != (S, W) or (f < 0).any() or not np.all(np.isfinite(f)):
                raise ConfigError(f"stocking problem: slotting_fixed_cost must be a scalar or ({S}, {W}) array >= 0")
        object.__setattr__(self, "slotting_fixed_cost", f)
        if int(self.min_lot) != self.min_lot or self.min_lot < 0:
            raise ConfigError(f"stocking problem: min_lot must be a non-negative integer, got {self.min_lot!r}")
        object.__setattr__(self, "min_lot", int(self.min_lot))
        if int(self.cycle_days) != self.cycle_days or self.cycle_days < 1:
            raise ConfigError(f"stocking problem: cycle_days must be a positive integer, got {self.cycle_days!r}")
        # infeasibility is named by its constraint family
        neg = [w for w, c in zip(self.warehouses, self.capacity_m3, strict=True) if c < 0]
        if neg:
            raise InfeasibleError(
                f"stocking model is infeasible: capacity of {', '.join(neg)} is negative", family="capacity"
            )
        if self.budget is not None:
            b = float(self.budget)
            if not np.isfinite(b):
                raise ConfigError("stocking problem: budget must be finite or None")
            if b < 0:
                raise InfeasibleError(
                    f"stocking model is infeasible: inventory budget {b:g} is negative", family="budget"
                )
            object.__setattr__(self, "budget", b)
        self._check_start(S, W)
        object.__setattr__(self, "notes", tuple(self.notes) + tuple(self._diagnose()))

    def _check_start(self, S: int, W: int) -> None:
        """Validate the starting-inventory fields (all optional)."""
        if self.on_hand is None:
            for name in ("keep_cost", "pull_back_cost", "transfer_limit_m3"):
                if getattr(self, name) is not None:
                    raise ConfigError(f"stocking problem: {name} needs on_hand (the starting inventory)")
            return
        h = _arr(self.on_hand)
        if h.shape != (S, W) or not np.all(np.isfinite(h)) or (h < 0).any() or not np.all(h == np.rint(h)):
            raise ConfigError(f"stocking problem: on_hand must be ({S}, {W}) non-negative whole units")
        object.__setattr__(self, "on_hand", h)
        keep = self.unit_cost if self.keep_cost is None else self.keep_cost
        pull = np.zeros((S, W)) if self.pull_back_cost is None else self.pull_back_cost
        for name, a in (("keep_cost", keep), ("pull_back_cost", pull)):
            a = _arr(a)
            if a.shape != (S, W) or not np.all(np.isfinite(a)) or (a < 0).any():
                raise ConfigError(f"stocking problem: {name} must be ({S}, {W}) finite and >= 0")
            object.__setattr__(self, name, a)
        if (self.keep_cost > self.unit_cost + 1e-12).any():  # type: ignore[operator]
            raise ConfigError("stocking problem: keep_cost must not exceed unit_cost (keeping a unit "
                              "never costs more than moving a new one in)")
        if self.transfer_limit_m3 is not None:
            t = _arr(self.transfer_limit_m3)
            if t.shape != (W,) or np.isnan(t).any() or (t < 0).any():
                raise ConfigError(f"stocking problem: transfer_limit_m3 must be ({W},) and >= 0 (inf = no limit)")
            object.__setattr__(self, "transfer_limit_m3", t)

    @property
    def has_start(self) -> bool:
        """Whether the problem starts from stock already on the shelf (piecewise first stage)."""
        return self.on_hand is not None

    def first_stage_cost(self, q: np.ndarray) -> float:
        """Cost of stock level ``q`` (S, W) without the leftover term: see the module docstring."""
        q = np.asarray(q, dtype=float)
        if self.on_hand is None:
            return float((self.unit_cost * q).sum())
        h = self.on_hand
        kept = np.minimum(q, h)
        return float((self.keep_cost * kept).sum() + (self.unit_cost * np.maximum(q - h, 0.0)).sum()
                     + (self.pull_back_cost * np.maximum(h - q, 0.0)).sum())  # type: ignore[operator]

    def moves(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Units moved in and pulled back (S, W) to go from on_hand to ``q``."""
        q = np.asarray(q, dtype=float)
        h = np.zeros_like(q) if self.on_hand is None else self.on_hand
        return np.maximum(q - h, 0.0), np.maximum(h - q, 0.0)

    # -- derived quantities -------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int, int, int]:
        S, Z, K = self.demand.shape
        return S, len(self.warehouses), Z, K

    @property
    def n_scenarios(self) -> int:
        return int(self.demand.shape[2])

    @property
    def gain(self) -> np.ndarray:
        """Value of one unit served fast, leftover saving included (S,)."""
        return self.fast_value + self.leftover_cost

    @property
    def charge(self) -> np.ndarray:
        """Cost of one unit stocked, leftover included (S, W)."""
        return self.unit_cost + self.leftover_cost[:, None]

    @property
    def fixed_cost(self) -> np.ndarray:
        """Slotting fixed cost as an (S, W) array."""
        f = self.slotting_fixed_cost
        if np.ndim(f) == 0:
            return np.full((len(self.skus), len(self.warehouses)), float(f))
        return np.asarray(f)

    @property
    def has_slotting(self) -> bool:
        return bool(np.any(self.fixed_cost > 0)) or self.min_lot > 1

    def zone_groups(self) -> ZoneGroups:
        cov = self.covers
        covered = cov.any(axis=0)
        cols = np.ascontiguousarray(cov.T[covered])
        uniq, inv = np.unique(cols, axis=0, return_inverse=True)
        zg = np.full(len(self.zones), -1, dtype=np.int64)
        zg[covered] = inv.ravel()
        return ZoneGroups(covers=np.ascontiguousarray(uniq.T), zone_group=zg)

    def grouped_demand(self, demand: np.ndarray | None = None) -> np.ndarray:
        """Demand summed over zones with identical coverage: (S, P, K)."""
        g = self.zone_groups()
        d = self.demand if demand is None else demand
        P = g.covers.shape[1]
        onehot = np.zeros((d.shape[1], P))
        m = g.zone_group >= 0
        onehot[np.flatnonzero(m), g.zone_group[m]] = 1.0
        return np.einsum("szk,zp->spk", d, onehot, optimize=True)

    def upper_units(self) -> np.ndarray:
        """Largest useful stock per (s, w): the most demand w can reach in any scenario (S, W)."""
        reach = np.einsum("szk,wz->swk", self.demand, self.covers.astype(float), optimize=True)
        u = np.ceil(reach.max(axis=2) - 1e-9)
        if self.on_hand is not None:  # stock already there may stay, useful or not
            u = np.maximum(u, self.on_hand)
        return np.where(self.allowed, u, 0.0)

    def _diagnose(self) -> list[str]:
        notes: list[str] = []
        uncovered = [z for z, c in zip(self.zones, self.covers.any(axis=0), strict=True) if not c]
        if uncovered:
            head = ", ".join(uncovered[:8]) + (" ..." if len(uncovered) > 8 else "")
            notes.append(
                f"{len(uncovered)} zone(s) covered by no forward warehouse ({head}): "
                "their demand is served from the central DC on the slow promise"
            )
        if not (self.demand > 0).any():
            notes.append("all scenario demand is zero: nothing is worth stocking")
        vmin = float(self.volume_m3.min())
        small = [w for w, c in zip(self.warehouses, self.capacity_m3, strict=True) if c < vmin]
        if small:
            notes.append(
                f"capacity of {', '.join(small)} is below the smallest unit volume ({vmin:g} m3): "
                "nothing can be stocked there"
            )
        if self.budget is not None and self.budget < float(self.unit_value.min()):
            notes.append(f"inventory budget {self.budget:g} is below the cheapest unit value: nothing can be stocked")
        no_where = ~self.allowed.any(axis=1)
        if no_where.any():
            notes.append(f"{int(no_where.sum())} SKU(s) are allowed in no forward warehouse (special storage)")
        return notes
