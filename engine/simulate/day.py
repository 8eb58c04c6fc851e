"""Execute a day's plans against realised orders, with the randomness plans don't control.

For every replication and every allocated order the simulation decides what actually happens:

- **forward orders the dispatch served**: the courier leaves at the planned minute; travel
  time is noisy (a shared factor per courier trip times a factor per order, lognormal with the
  instance's coefficient of variation); a crowdsourced courier declines the offer with
  probability ``1 - acceptance_probability`` or does not show up (``crowd_no_show``), and the
  work is re-offered at the next dispatch wave (``dispatch.wave_min`` later);
- **forward orders the dispatch left unserved** go to the slow promise from the central DC:
  they miss their instant promise;
- **central-DC orders** (no forward stock) are delivered by the DC's carrier, on time with
  the instance's ``central_on_time`` share (the DC carrier itself is not routed here);
- damage (by courier kind, higher for fragile goods) and loss, each raising a claim resolved
  after a lognormal number of hours (on time within ``claim_window_hours``); returns as
  reverse pickups;
- tracking events (created, allocated, picked, dispatched, out for delivery, delivered / failed
  / returned), each of which fails to be recorded with ``tracking_gap_rate``.

Replications use independent streams spawned from one seed: same seed, same outcomes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from engine.instance import Instance
from engine.solver import Settings, SolveStats, SolveStatus

FINAL_STATES = ("delivered", "damaged", "lost")
EVENT_KINDS = ("created", "allocated", "picked", "dispatched", "out_for_delivery", "delivered", "failed", "returned")


@dataclass(frozen=True, slots=True)
class SimulationResult:
    """Per-order outcomes of every replication, and the tracking events of the first one."""

    outcomes: pd.DataFrame  # one row per (replication, order)
    events: pd.DataFrame  # tracking events of replication 0: order, event, minute
    replications: int
    seed: int
    notes: tuple[str, ...] = field(default_factory=tuple)
    stats: SolveStats | None = None  # backend "simulation"; solve_seconds = wall time of all replications

    def to_frame(self) -> pd.DataFrame:
        return self.outcomes

    def to_dict(self) -> dict[str, Any]:
        o = self.outcomes
        return {
            "replications": self.replications,
            "seed": self.seed,
            "orders": int(o["order"].nunique()),
            "final_states": {k: int(v) for k, v in o["state"].value_counts().items()},
            "notes": list(self.notes),
            "stats": self.stats.to_dict() if self.stats else None,
        }


def _lognormal(rng: np.random.Generator, cv: float, size: int | tuple[int, ...]) -> np.ndarray:
    """Mean-one lognormal noise with coefficient of variation ``cv``."""
    if cv <= 0:
        return np.ones(size)
    sigma = np.sqrt(np.log1p(cv**2))
    return rng.lognormal(-(sigma**2) / 2, sigma, size)


def simulate_day(instance: Instance, allocated: pd.DataFrame, assignments: pd.DataFrame, *,
                 replications: int | None = None, seed: int | None = None,
                 settings: Settings | None = None) -> SimulationResult:
    """Simulate the execution of a day.

    ``allocated`` comes from :func:`engine.simulate.allocate_orders`; ``assignments`` is the
    dispatch result's per-order table (columns order, status, courier, courier_kind, trip,
    depart_min, arrive_min, and optionally assigned_min). ``settings`` may carry the seed and
    ``options={"replications": R}``; explicit arguments win.
    """
    t0 = time.perf_counter()
    p = instance.manifest.simulation
    if settings is not None:
        settings.check_options({"replications"}, where="simulation")
        replications = replications or settings.option("replications")
        seed = settings.seed if seed is None else seed
    wave = instance.manifest.dispatch.wave_min
    R = int(replications or p.replications)
    seed = instance.manifest.seed if seed is None else int(seed)

    a = assignments.set_index("order").reindex(allocated["id"])
    n = len(allocated)
    served = (a["status"] == "served").to_numpy() & (allocated["source"] == "forward").to_numpy()
    kind = a["courier_kind"].fillna("").to_numpy(dtype=object)
    courier = a["courier"].fillna("").to_numpy(dtype=object)
    crowd = instance.crowd.set_index("id")
    accept = pd.Series(courier).map(crowd["acceptance_probability"]).fillna(1.0).to_numpy(dtype=float)
    crowd_special = pd.Series(courier).map(crowd["may_carry_special"].astype(object)).to_numpy(dtype=object)
    may_special = np.where(kind == "crowd", crowd_special == True, True)  # noqa: E712 (object array)
    depart = a["depart_min"].to_numpy(dtype=float)
    arrive = a["arrive_min"].to_numpy(dtype=float)
    created = allocated["created_min"].to_numpy(dtype=float)
    ready = allocated["ready_min"].to_numpy(dtype=float)
    due = allocated["due_min"].to_numpy(dtype=float)
    central = (allocated["source"] == "central").to_numpy()
    fragile = allocated["fragile"].to_numpy(dtype=bool)
    special = allocated["special"].to_numpy(dtype=bool)
    if "assigned_min" in a.columns:
        assigned = a["assigned_min"].to_numpy(dtype=float)
    else:  # wave dispatch without a recorded assignment time: the first re-plan after the order
        assigned = np.ceil(created / wave) * wave
    assigned = np.where(served, assigned, np.nan)
    trip_key = pd.Series(courier).astype(str) + "#" + a["trip"].fillna(-1).astype(int).astype(str).to_numpy()
    trip_id = pd.factorize(trip_key)[0]
    n_trips = int(trip_id.max()) + 1 if n else 0
    slow_max = instance.manifest.slow_tier.max_min

    rows = []
    events0 = None
    for r, ss in enumerate(np.random.SeedSequence(seed).spawn(R)):
        rng = np.random.default_rng(ss)
        trip_f = _lognormal(rng, p.travel_noise_cv / np.sqrt(2), n_trips)
        order_f = _lognormal(rng, p.travel_noise_cv / np.sqrt(2), n)
        declined = (kind == "crowd") & (rng.random(n) > accept)
        no_show = (kind == "crowd") & ~declined & (rng.random(n) < p.crowd_no_show)
        delay = np.where(declined | no_show, wave, 0.0)
        travel = np.maximum(arrive - depart, 0.0) * (trip_f[trip_id] if n_trips else 1.0) * order_f
        fwd_delivery = depart + delay + travel
        # slow tier: DC orders and unserved forward orders; on time with the DC carrier's share
        slow_on_time = rng.random(n) < p.central_on_time
        slow_delivery = np.where(slow_on_time, created + rng.uniform(0.4, 1.0, n) * slow_max,
                                 created + slow_max + rng.uniform(60, 1440, n))
        delivered_min = np.where(served, fwd_delivery, slow_delivery)
        dmg_rate = np.where(kind == "crowd", p.damage_rate_crowd, p.damage_rate_fleet)
        dmg_rate = np.where(fragile, dmg_rate * p.fragile_damage_factor, dmg_rate)
        lost = rng.random(n) < p.loss_rate
        damaged = ~lost & (rng.random(n) < dmg_rate)
        state = np.where(lost, "lost", np.where(damaged, "damaged", "delivered"))
        on_time = ~lost & (delivered_min <= due + 1e-9)
        returned = (state == "delivered") & (rng.random(n) < p.return_rate)
        return_picked = returned & (rng.random(n) < p.return_pickup_on_time)
        gaps = rng.random((n, 6)) < p.tracking_gap_rate
        trail_complete = ~gaps.any(axis=1)
        claim = lost | damaged  # every damaged or lost order raises a claim
        claim_hours = p.claim_median_hours * rng.lognormal(0.0, 0.8, n)
        claim_on_time = claim & (claim_hours <= p.claim_window_hours)
        rows.append(pd.DataFrame({
            "replication": r,
            "order": allocated["id"].to_numpy(),
            "source": allocated["source"].to_numpy(),
            "warehouse": allocated["warehouse"].to_numpy(),
            "segment": allocated["segment"].to_numpy(),
            "special": special, "fragile": fragile, "high_value": allocated["high_value"].to_numpy(dtype=bool),
            "served_by_plan": served,
            "courier": np.where(served, courier, ""),
            "courier_kind": np.where(served, kind, np.where(central, "central_carrier", "slow_fallback")),
            "allowed_courier": np.where(served, may_special, True),
            "created_min": created, "ready_min": ready, "due_min": due,
            "assigned_min": assigned,
            "planned_arrive_min": np.where(served, arrive, np.nan),
            "delivered_min": np.where(lost, np.nan, delivered_min),
            "declined": declined, "no_show": no_show,
            "state": state, "on_time": on_time,
            "instant": served & on_time,
            "eta_error_min": np.where(served & ~lost, delivered_min - arrive, np.nan),
            "trail_complete": trail_complete,
            "returned": returned, "return_picked_on_time": return_picked,
            "claim": claim, "claim_resolved_on_time": claim_on_time,
        }))
        if r == 0:
            events0 = _events(allocated["id"].to_numpy(), created, ready, depart, delivered_min, served,
                              state, returned, gaps)
    outcomes = pd.concat(rows, ignore_index=True)
    notes = ("central-DC carrier not routed: its on-time share is simulation.central_on_time",)
    stats = SolveStats("simulation", SolveStatus.FEASIBLE, solve_seconds=time.perf_counter() - t0,
                       message=f"{R} replications, seed {seed}")
    return SimulationResult(outcomes=outcomes, events=events0 if events0 is not None else pd.DataFrame(),
                            replications=R, seed=seed, notes=notes, stats=stats)


def _events(ids: np.ndarray, created: np.ndarray, ready: np.ndarray, depart: np.ndarray, delivered: np.ndarray,
            served: np.ndarray, state: np.ndarray, returned: np.ndarray, gaps: np.ndarray) -> pd.DataFrame:
    """Timestamped tracking events of one replication (missing ones are the recording gaps)."""
    dep = np.where(served, depart, ready)
    final = np.where(state == "lost", "failed", "delivered")
    cols = [
        ("created", created), ("allocated", created), ("picked", ready), ("dispatched", dep),
        ("out_for_delivery", dep + 1.0), ("final", delivered),
    ]
    frames = []
    for j, (name, minute) in enumerate(cols):
        keep = ~gaps[:, j]
        ev = np.full(len(ids), name, dtype=object) if name != "final" else final.astype(object)
        frames.append(pd.DataFrame({"order": ids[keep], "event": ev[keep], "minute": minute[keep]}))
    frames.append(pd.DataFrame({"order": ids[returned], "event": "returned", "minute": delivered[returned] + 1.0}))
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values(["order", "minute"], kind="stable").reset_index(drop=True)
