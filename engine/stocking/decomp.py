"""Decomposition back-end: per-SKU structure, capacity prices, and a proven bound.

The problem separates by SKU except for the capacity (and budget) rows. With prices lambda_w
on warehouse volume (and mu on inventory value) each SKU faces its own small two-stage problem.

Primal (a plan): block coordinate ascent over warehouses. For one warehouse column the exact
second stage gives, per SKU and scenario, how many more units that warehouse could still
serve and how many it could give up for free (``flow.CutOracle``), so the best stock level of
that column alone is a newsvendor quantile — exact, fixed cost and minimum lot included. The
price of the column is set by bisection so that its warehouse is exactly full (market
clearing), so every plan the loop visits respects capacity. Warehouses that share no zone are
updated together (a colouring of the coverage graph). The budget is priced by a multiplier
and, if still exceeded, repaired by removing the cheapest units.

Dual (the bound): for any prices, any alpha[s,w,k] in [0, p_k g_s] with
sum_k alpha[s,w,k] <= price-adjusted unit charge is a feasible dual of the LP relaxation of
each SKU's subproblem, with beta[s,p,k] = p_k g_s - min over warehouses covering p of alpha.
So  sum d * beta + lambda . capacity + mu * budget  >= LP optimum >= MIP optimum.  alpha is
read from the min cuts of the current plan (stock that binds in scenario k gets its full
share), scaled to fit the charge; it is tight when the plan is LP-optimal at the prices. With
slotting fixed costs the charge includes F / U (the LP relaxation of the slot variable), which
is valid but weak, as is any LP bound with fixed costs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.errors import ConfigError
from engine.solver import Settings, SolveStatus
from engine.stocking.dual import sku_bounds
from engine.stocking.exact_sku import solve_sku
from engine.stocking.flow import CutOracle
from engine.stocking.outcome import Outcome
from engine.stocking.problem import StockingProblem
from engine.stocking.rules import newsvendor

log = logging.getLogger(__name__)

OPTIONS = {"max_sweeps", "start", "polish_rounds", "ascent_share", "reoptimize"}


def _colour_classes(cov: np.ndarray) -> list[np.ndarray]:
    """Greedy colouring of warehouses: same colour = no shared zone group."""
    W = cov.shape[0]
    adj = (cov.astype(int) @ cov.T.astype(int)) > 0
    deg = adj.sum(axis=1)
    colour = np.full(W, -1)
    for w in np.argsort(-deg, kind="stable"):
        used = {int(colour[v]) for v in np.flatnonzero(adj[w]) if colour[v] >= 0 and v != w}
        c = 0
        while c in used:
            c += 1
        colour[w] = c
    return [np.flatnonzero(colour == c) for c in range(int(colour.max()) + 1)]


class _Column:
    """Exact one-dimensional stock choice for one warehouse column, all SKUs at once."""

    def __init__(self, delta: np.ndarray, q: np.ndarray, prob: np.ndarray, g: np.ndarray,
                 F: np.ndarray, U: np.ndarray, min_lot: int) -> None:
        self.r = np.maximum(delta, 0.0)  # (S, K) more units this column could serve
        self.sl = np.maximum(-delta, 0.0)  # (S, K) units it could give up for free
        self.q, self.prob, self.g, self.F, self.U, self.m = q, prob, g, F, U, min_lot
        o = np.argsort(-self.r, axis=1, kind="stable")
        self.r_desc = np.take_along_axis(self.r, o, axis=1)
        self.cum_r = np.cumsum(prob[o], axis=1)
        o = np.argsort(self.sl, axis=1, kind="stable")
        self.sl_asc = np.take_along_axis(self.sl, o, axis=1)
        self.cum_sl = np.cumsum(prob[o], axis=1)
        self.p_up1 = (self.r >= 1) @ prob

    def change(self, t: np.ndarray, price: np.ndarray) -> np.ndarray:
        """Exact change of (value - price * stock - fixed cost) from q to t."""
        q, g = self.q, self.g
        up = np.maximum(t - q, 0.0)
        dn = np.maximum(q - t, 0.0)
        gain_up = np.minimum(up[:, None], self.r) @ self.prob
        loss_dn = np.maximum(dn[:, None] - self.sl, 0.0) @ self.prob
        fixed = self.F * ((t > 0).astype(float) - (q > 0).astype(float))
        return g * (gain_up - loss_dn) - price * (up - dn) - fixed

    def best(self, price: np.ndarray) -> np.ndarray:
        """Best stock level per SKU for per-unit ``price`` (charge + capacity/budget prices)."""
        S, K = self.r.shape
        g = self.g
        rho = np.where(g > 0, price / np.where(g > 0, g, 1.0), np.inf)
        eps = 1e-12
        i_up = (self.cum_r < rho[:, None] - eps).sum(axis=1)
        n_up = np.where(i_up < K, self.r_desc[np.arange(S), np.minimum(i_up, K - 1)], 0.0)
        i_dn = (self.cum_sl < rho[:, None] - eps).sum(axis=1)
        m_dn = np.where(i_dn < K, self.sl_asc[np.arange(S), np.minimum(i_dn, K - 1)], np.inf)
        t = np.where(n_up > 0, self.q + n_up, np.maximum(self.q - m_dn, 0.0))
        t = np.minimum(t, self.U)
        if self.m > 0 or (self.F > 0).any():
            cands = [t, np.zeros_like(t), self.q]
            if self.m > 0:
                cands.append(np.where(self.U > 0, np.maximum(t, self.m), 0.0))
            vals = np.stack([self.change(c, price) for c in cands])
            if self.m > 0:  # levels between 0 and the minimum lot are not allowed
                for i, c in enumerate(cands):
                    vals[i, (c > 0) & (c < self.m)] = -np.inf
            t = np.stack(cands)[np.argmax(vals, axis=0), np.arange(S)]
        return t


class _Decomp:
    def __init__(self, problem: StockingProblem, settings: Settings) -> None:
        self.p = problem
        self.settings = settings
        self.t0 = time.perf_counter()
        groups = problem.zone_groups()
        self.cov = groups.covers
        self.dem = problem.grouped_demand().astype(np.float32)
        self.prob = problem.probability
        self.g = problem.gain
        self.charge = problem.charge
        self.F = problem.fixed_cost
        U = problem.upper_units()
        if problem.min_lot > 0:
            U = np.where(U > 0, np.maximum(U, problem.min_lot), 0.0)
        self.U = U
        self.oracle = CutOracle(self.cov)
        self.colours = _colour_classes(self.cov)
        S, W = U.shape
        self.lam = np.zeros(W)
        self.mu = 0.0
        self.best_q: np.ndarray | None = None
        self.best_obj = -np.inf
        self.best_ub = np.inf
        self.history: list[tuple[float, float, float]] = []
        # at scale (S x K above 300 000) a bound costs about a full oracle pass: it is computed
        # at fixed points (after the exact phase's bound, at the end) instead of at every record
        self.cheap_bound = S * self.dem.shape[2] <= 300_000
        self.bound_s = 0.0  # duration of the last bound computation

    # -- evaluation -------------------------------------------------------------------------
    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def refresh(self, q: np.ndarray, rows: np.ndarray | None = None) -> None:
        if rows is None:
            self.flow, self.delta = _mapped_oracle(self, q, None)
        elif rows.size:
            f, d = _mapped_oracle(self, q, rows)
            self.flow[rows] = f
            self.delta[rows] = d  # type: ignore[index]
        self.q = q

    def profit(self, q: np.ndarray) -> float:
        value = float(self.g @ (self.flow @ self.prob))
        return value - float((self.charge * q).sum()) - float((self.F * (q > 0)).sum())

    def budget_ok(self, q: np.ndarray) -> bool:
        b = self.p.budget
        return b is None or float((self.p.unit_value @ q).sum()) <= b * (1 + 1e-9)

    def record(self, sweeps: int = 0, bound: bool | None = None) -> None:
        """Keep the plan if it is feasible and better; with ``bound`` (default: when bounds are
        cheap) also the bound at the current prices."""
        if bound is None:
            bound = self.cheap_bound
        q = self.q
        vol = self.p.volume_m3 @ q
        if (vol <= self.p.capacity_m3 * (1 + 1e-9) + 1e-12).all() and self.budget_ok(q):
            obj = self.profit(q)
            if obj > self.best_obj:
                self.best_obj, self.best_q = obj, q.copy()
        if bound:
            self.best_ub = min(self.best_ub, self.bound(self.lam, self.mu, sweeps=sweeps))
        self.history.append((self.elapsed(), self.best_obj, self.best_ub))

    def prices(self, lam: np.ndarray, mu: float, *, slot_share: bool) -> np.ndarray:
        """Per-unit charge at capacity prices ``lam`` and budget price ``mu`` (S, W); with
        ``slot_share`` the slot fixed cost is added as its LP share F / U (for relaxations)."""
        p = self.p
        price = self.charge + lam[None, :] * p.volume_m3[:, None] + mu * p.unit_value[:, None]
        if slot_share:
            price = price + np.where(self.U > 0, self.F / np.maximum(self.U, 1.0), 0.0)
        return price

    def bound(self, lam: np.ndarray, mu: float, sweeps: int = 1) -> float:
        """Valid upper bound from the current cuts at prices (lam, mu); see ``dual``."""
        p = self.p
        t = time.perf_counter()
        price = self.prices(lam, mu, slot_share=True)
        free = (~p.allowed) | (self.U <= 0)
        per_sku = sku_bounds(self.delta, self.dem, self.cov, self.prob, self.g, price, free, sweeps=sweeps)
        total = float(per_sku.sum()) + float(lam @ p.capacity_m3)
        if p.budget is not None:
            total += mu * float(p.budget)
        self.bound_s = time.perf_counter() - t
        return total

    # -- primal moves ------------------------------------------------------------------------
    def clear_column(self, w: int, q: np.ndarray) -> tuple[np.ndarray, float]:
        """Best column w for all SKUs at the market-clearing capacity price of w."""
        p = self.p
        col = _Column(self.delta[:, w, :].astype(float), q[:, w], self.prob, self.g, self.F[:, w],
                      self.U[:, w], p.min_lot)
        base = self.charge[:, w] + self.mu * p.unit_value
        v, cap = p.volume_m3, float(p.capacity_m3[w])

        def at(lam: float) -> np.ndarray:
            return col.best(base + lam * v)

        t = at(0.0)
        if float(v @ t) <= cap:
            return t, 0.0
        hi = float(np.max(self.g / v)) * 1.01 + 1.0
        t_hi = at(hi)
        lo = hi * 1e-9
        if float(v @ at(lo)) <= cap:
            hi, t_hi, lo = lo, at(lo), 0.0
        else:
            for _ in range(45):  # geometric bisection: prices span orders of magnitude
                mid = float(np.sqrt(lo * hi))
                tm = at(mid)
                if float(v @ tm) <= cap:
                    hi, t_hi = mid, tm
                else:
                    lo = mid
                if hi - lo <= 1e-4 * hi:
                    break
        # fill what is left at the threshold with units of the SKUs that are indifferent there
        t_lo = at(lo)
        extra = np.maximum(t_lo - t_hi, 0.0)
        left = cap - float(v @ t_hi)
        if left > 0 and extra.any():
            order = np.argsort(-(self.g / v), kind="stable")
            order = order[extra[order] > 0]
            n = extra[order]
            room = left - np.concatenate([[0.0], np.cumsum(n * v[order])[:-1]])
            take = np.clip(np.floor(room / v[order] + 1e-9), 0.0, n)
            if p.min_lot > 0:  # never leave a slot below the minimum lot (dropping only frees room)
                after = t_hi[order] + take
                take[(after > 0) & (after < p.min_lot)] = 0.0
            t_hi = t_hi.copy()
            t_hi[order] += take
        return t_hi, hi

    def adjust_budget_price(self, q: np.ndarray) -> None:
        b = self.p.budget
        if b is None:
            return
        used = float((self.p.unit_value @ q).sum())
        if used > b:
            base = float(np.median(self.g / np.maximum(self.p.unit_value, 1e-9)))
            self.mu = max(self.mu * 1.6, 0.02 * base)
        elif used < 0.99 * b and self.mu > 0:
            self.mu *= 0.75

    def sweep(self, deadline: float) -> bool:
        changed_any = False
        for cls in self.colours:
            if self.elapsed() > deadline:
                break
            q = self.q.copy()
            for w in cls:
                t, lam = self.clear_column(int(w), self.q)
                q[:, w] = t
                self.lam[w] = lam
            rows = np.flatnonzero((q != self.q).any(axis=1))
            changed_any |= bool(rows.size)
            self.refresh(q, rows)
            self.adjust_budget_price(q)
            self.record(bound=False)
        # the bound once per sweep (about one oracle pass); at scale only in the later phases
        self.record()
        log.debug("decomp: sweep done at %.1fs: primal %.6g bound %.6g", self.elapsed(), self.best_obj, self.best_ub)
        if self.gap() <= self.settings.mip_gap:
            return False
        return changed_any

    def gap(self) -> float:
        if not np.isfinite(self.best_obj):
            return np.inf
        return (self.best_ub - self.best_obj) / max(abs(self.best_obj), 1e-9)

    def repair_budget(self) -> None:
        """Remove the units that lose least per unit of value until the budget holds."""
        p = self.p
        for _ in range(200):
            q = self.q
            if self.budget_ok(q):
                return
            excess = float((p.unit_value @ q).sum()) - float(p.budget)  # type: ignore[arg-type]
            sl0 = (self.delta <= -1).astype(float)  # removing one unit costs nothing there
            loss = self.g[:, None] * (1.0 - sl0 @ self.prob) - self.charge
            ratio = np.where(q > 0, loss / p.unit_value[:, None], np.inf)
            # one unit per SKU per round: its cheapest warehouse
            w_best = np.argmin(ratio, axis=1)
            r_best = ratio[np.arange(len(q)), w_best]
            order = np.argsort(r_best, kind="stable")
            order = order[np.isfinite(r_best[order])]
            cum = np.cumsum(p.unit_value[order])
            k = int(np.searchsorted(cum, excess)) + 1
            pick = order[:k]
            q = q.copy()
            q[pick, w_best[pick]] -= 1
            if p.min_lot > 0:
                low = (q > 0) & (q < p.min_lot)
                q[low] = 0
            self.refresh(q, pick)
        q = self.q.copy()
        scale = float(p.budget) / float((p.unit_value @ q).sum())  # type: ignore[arg-type]
        q = np.floor(q * scale)
        self.refresh(q)

    def swap_round(self, cls: np.ndarray) -> bool:
        """Move capacity between SKUs at full warehouses: drop last units worth least per m3,
        add next units worth most per m3, while that gains (exact marginals, one unit per slot).
        Kept only if the exact objective improves."""
        p = self.p
        q = self.q
        add = np.zeros_like(q)
        prob = self.prob
        for w in cls:
            dw = self.delta[:, w, :]
            room = float(p.capacity_m3[w] - p.volume_m3 @ q[:, w])
            gain = self.g * ((dw >= 1) @ prob) - self.charge[:, w]
            loss = self.g * ((dw > -1) @ prob) - self.charge[:, w]
            can_add = p.allowed[:, w] & (q[:, w] < self.U[:, w]) & (gain > 1e-12)
            can_rm = q[:, w] > 0
            if p.has_slotting:
                can_add &= q[:, w] > 0
                can_rm &= q[:, w] - 1 >= max(p.min_lot, 1)
            a_idx = np.flatnonzero(can_add)
            r_idx = np.flatnonzero(can_rm)
            if not a_idx.size or not r_idx.size:
                continue
            a_idx = a_idx[np.argsort(-gain[a_idx] / p.volume_m3[a_idx], kind="stable")]
            r_idx = r_idx[np.argsort(loss[r_idx] / p.volume_m3[r_idx], kind="stable")]
            r_idx = r_idx[~np.isin(r_idx, a_idx[:1000])]
            if not r_idx.size:
                continue
            a_vol = np.cumsum(p.volume_m3[a_idx])
            a_gain = np.cumsum(gain[a_idx])
            r_vol = np.concatenate([[0.0], np.cumsum(p.volume_m3[r_idx])])
            r_loss = np.concatenate([[0.0], np.cumsum(loss[r_idx])])
            need = np.searchsorted(r_vol, a_vol - room - 1e-12)  # removals needed per add prefix
            ok = need < r_vol.size
            if not ok.any():
                continue
            benefit = np.where(ok, a_gain - r_loss[np.minimum(need, r_vol.size - 1)], -np.inf)
            i = int(np.argmax(benefit))
            if benefit[i] <= 1e-9 * max(1.0, abs(self.best_obj)):
                continue
            add[a_idx[: i + 1], w] += 1
            add[r_idx[: need[i]], w] -= 1
        rows = np.flatnonzero(add.any(axis=1))
        if not rows.size:
            return False
        before = self.profit(q)
        old_flow, old_delta = self.flow[rows].copy(), self.delta[rows].copy()
        self.refresh(q + add, rows)
        if self.profit(self.q) <= before + 1e-9 * max(1.0, abs(before)):
            self.flow[rows], self.delta[rows] = old_flow, old_delta  # type: ignore[index]
            self.q = q
            return False
        self.record()
        return True

    def polish(self, rounds: int, deadline: float = np.inf) -> None:
        """Add single units with the best value per m3 where capacity (and budget) is left;
        no new round starts after ``deadline`` (seconds since the start)."""
        p = self.p
        for _ in range(rounds):
            if self.elapsed() > deadline:
                return
            q = self.q
            room = p.capacity_m3 - p.volume_m3 @ q
            gain = self.g[:, None] * ((self.delta >= 1).astype(float) @ self.prob) - self.charge
            gain = gain - np.where(q == 0, self.F, 0.0)
            ok = (gain > 1e-9) & p.allowed & (q < self.U) & (p.volume_m3[:, None] <= room[None, :])
            if p.min_lot > 1:
                ok &= q > 0
            if not ok.any():
                return
            ratio = np.where(ok, gain / p.volume_m3[:, None], -np.inf)
            w_best = np.argmax(ratio, axis=1)
            r_best = ratio[np.arange(len(q)), w_best]
            cand = np.flatnonzero(np.isfinite(r_best))
            cand = cand[np.argsort(-r_best[cand], kind="stable")]
            add = np.zeros_like(q)
            left = room.copy()
            budget_left = None if p.budget is None else float(p.budget) - float((p.unit_value @ q).sum())
            for w in range(q.shape[1]):  # per warehouse: prefix of candidates that fits
                sel = cand[w_best[cand] == w]
                if not sel.size:
                    continue
                cum = np.cumsum(p.volume_m3[sel])
                take = sel[cum <= left[w] + 1e-12]
                add[take, w] = 1
            if budget_left is not None:
                picked = np.flatnonzero(add.any(axis=1))
                picked = picked[np.argsort(-r_best[picked], kind="stable")]
                cum = np.cumsum(p.unit_value[picked])
                drop = picked[cum > budget_left + 1e-9]
                add[drop] = 0
            rows = np.flatnonzero(add.any(axis=1))
            if not rows.size:
                return
            self.refresh(q + add, rows)
            self.record()


@dataclass(frozen=True)
class _SkuJob:
    """What the exact per-SKU solves need (shared with forked workers; pickled once per
    solve when a cluster's chunk map is set)."""

    dem: np.ndarray
    cov: np.ndarray
    prob: np.ndarray
    g: np.ndarray
    price: np.ndarray
    U: np.ndarray
    F: np.ndarray | None
    min_lot: int
    deadline: float  # time.time() after which no new SKU is started

    def solve(self, skus: np.ndarray) -> list[tuple[int, float, np.ndarray]]:
        out = []
        for s in skus:
            if time.time() > self.deadline:
                break
            # with slot costs the binaries are exact here: a far stronger term than the LP share
            res = solve_sku(self.dem[s].astype(float), self.cov, self.prob, float(self.g[s]), self.price[s],
                            self.U[s], fixed=None if self.F is None else self.F[s], min_lot=self.min_lot,
                            time_limit=1.0)
            if res is not None:
                out.append((int(s), res[0], res[1]))
        return out


_JOB: _SkuJob | None = None  # set in the parent just before forking workers


# -- fan-out hook (engine.stocking.cluster) -----------------------------------------------------
# The one place this module meets a cluster: while a chunk map is set, the exact per-SKU phase
# hands it its SKU chunks instead of solving them here or in forked processes. The contract is
# "apply f to these chunks, return the results in order": ``chunk_map(f, chunks, shared,
# stage=...) == [f(c, shared) for c in chunks]``; ``shared`` (the _SkuJob) is pickled.
MAP_CHUNK = 64  # SKUs per mapped chunk
_CHUNK_MAP: ContextVar[Callable[..., list[Any]] | None] = ContextVar("decomp_chunk_map", default=None)


@contextmanager
def using_chunk_map(chunk_map: Callable[..., list[Any]] | None) -> Iterator[None]:
    """Solves inside this block send their exact per-SKU chunks through ``chunk_map``."""
    token = _CHUNK_MAP.set(chunk_map)
    try:
        yield
    finally:
        _CHUNK_MAP.reset(token)


def _solve_shared(skus: np.ndarray, job: _SkuJob) -> list[tuple[int, float, np.ndarray]]:
    return job.solve(skus)


MAP_ORACLE_MIN = 4_000  # SKUs: smaller oracle passes are not worth shipping
MAP_ORACLE_SPANS = 8  # the oracle's own row blocks per mapped chunk (same blocks: same numbers)


@dataclass(frozen=True, eq=False)
class _OracleData:
    """The oracle and the grouped demand it reads; one object per solve, so a chunk map sends it
    once and later passes reuse the workers' copy."""

    oracle: CutOracle
    dem: np.ndarray


def _oracle_shared(part: tuple[np.ndarray, np.ndarray], data: _OracleData) -> tuple[np.ndarray, np.ndarray | None]:
    rows, q = part
    return data.oracle(q, data.dem[rows])


def _mapped_oracle(d: _Decomp, q: np.ndarray, rows: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    """The oracle on ``q`` (rows ``rows`` only, or all): through the chunk map when one is set
    and the pass is large, in chunks made of whole oracle row blocks, so that every number is
    the one the local pass computes."""
    mapped = _CHUNK_MAP.get()
    n = q.shape[0] if rows is None else rows.size
    if mapped is None or n < MAP_ORACLE_MIN:
        if rows is None:
            return d.oracle(q, d.dem, threads=d.settings.threads)
        return d.oracle(q[rows], d.dem[rows], threads=d.settings.threads)
    if getattr(d, "_oracle_data", None) is None:
        d._oracle_data = _OracleData(d.oracle, d.dem)
    idx = np.arange(q.shape[0]) if rows is None else rows
    step = max(1, d.oracle.chunk_rows // max(d.dem.shape[2], 1)) * MAP_ORACLE_SPANS
    chunks = [(idx[i : i + step], q[idx[i : i + step]]) for i in range(0, n, step)]
    parts = mapped(_oracle_shared, chunks, d._oracle_data, stage="decomp oracle")
    return np.concatenate([f for f, _ in parts]), np.concatenate([dl for _, dl in parts])


def _solve_chunk(skus: np.ndarray) -> list[tuple[int, float, np.ndarray]]:
    assert _JOB is not None
    return _JOB.solve(skus)


def _run_jobs(job: _SkuJob, order: np.ndarray, threads: int) -> list[tuple[int, float, np.ndarray]]:
    """Solve SKUs in ``order`` until the deadline; with threads > 1 in forked worker processes
    (scipy's HiGHS holds the GIL, so threads would not help)."""
    global _JOB
    mapped = _CHUNK_MAP.get()
    if mapped is not None:
        chunks = [order[i : i + MAP_CHUNK] for i in range(0, order.size, MAP_CHUNK)]
        return [r for part in mapped(_solve_shared, chunks, job, stage="exact per-SKU") for r in part]
    if threads <= 1 or order.size < 64:
        return job.solve(order)
    import multiprocessing as mp

    try:
        ctx = mp.get_context("fork")
    except ValueError:  # no fork on this platform
        return job.solve(order)
    _JOB = job
    chunks = [order[i : i + 32] for i in range(0, order.size, 32)]
    out: list[tuple[int, float, np.ndarray]] = []
    try:
        try:
            pool_cm = ctx.Pool(processes=threads)
        except (AssertionError, OSError, ValueError):  # e.g. inside a daemonic (Dask) worker
            return job.solve(order)
        with pool_cm as pool:
            for part in pool.imap(_solve_chunk, chunks):
                out.extend(part)
                if time.time() > job.deadline:
                    break
            pool.terminate()
    finally:
        _JOB = None
    return out


def _exact_phase(d: _Decomp, deadline: float) -> tuple[float, int]:
    """Tighten the bound SKU by SKU with exact priced subproblems (loosest SKUs first).

    Returns the bound at the current prices and the number of SKUs solved exactly. The exact
    plans of solved SKUs that improve their priced value are switched in; the sweeps that follow
    re-clear capacity around them.
    """
    p = d.p
    lam, mu = d.lam.copy(), d.mu
    price_lin = d.prices(lam, mu, slot_share=False)
    price = d.prices(lam, mu, slot_share=True)
    free = (~p.allowed) | (d.U <= 0)
    # computed even when the deadline has passed: without it the bound of a large run that
    # overran its sweeps would be the crude per-sweep one
    t_b = time.perf_counter()
    per_sku = sku_bounds(d.delta, d.dem, d.cov, d.prob, d.g, price, free, sweeps=2)
    d.bound_s = time.perf_counter() - t_b
    val = d.g * (d.flow @ d.prob) - (price_lin * d.q).sum(axis=1) - (d.F * (d.q > 0)).sum(axis=1)
    loose = per_sku - val
    log.debug("decomp: heuristic bound before the exact phase %.6g (%.1fs)", float(per_sku.sum()) + float(lam @ p.capacity_m3)
              + (mu * float(p.budget) if p.budget is not None else 0.0), d.elapsed())
    order = np.argsort(-loose, kind="stable")
    order = order[loose[order] > 1e-9 * max(1.0, abs(d.best_obj))]
    solved = 0
    q_new = d.q.copy()
    gain_s = np.zeros(len(val))
    job = _SkuJob(d.dem, d.cov, d.prob, d.g, price_lin, d.U, d.F if p.has_slotting else None, p.min_lot,
                  time.time() + (deadline - d.elapsed()))
    for s, ub_s, q_s in _run_jobs(job, order, d.settings.threads):
        solved += 1
        per_sku[s] = min(per_sku[s], ub_s)
        q_new[s] = q_s
        gain_s[s] = ub_s - val[s]
    total = float(per_sku.sum()) + float(lam @ p.capacity_m3) + (mu * float(p.budget) if p.budget is not None else 0.0)
    # switch in the exact responses; the next sweeps re-clear capacity around them
    cand = np.flatnonzero((q_new != d.q).any(axis=1) & (gain_s > 1e-9))
    if cand.size:
        d.refresh(q_new, cand)
    return total, solved


def _dual_ascent(d: _Decomp, deadline: float, iters: int = 40) -> float:
    """Lagrangian dual over capacity (and budget) prices with every SKU solved exactly.

    Only used when all SKUs fit in the time budget (small problems, where the clearing prices
    of the integer plan are a poor estimate of the optimal prices). Returns the best bound.
    """
    p = d.p
    S, W = d.q.shape
    lam, mu = d.lam.copy(), d.mu
    best = np.inf
    has_b = p.budget is not None
    for _ in range(iters):
        if d.elapsed() > deadline:
            break
        price = d.prices(lam, mu, slot_share=False)
        total = float(lam @ p.capacity_m3) + (mu * float(p.budget) if has_b else 0.0)
        q_resp = np.zeros((S, W))
        ok = True
        slot = p.has_slotting
        for s in range(S):
            res = solve_sku(d.dem[s].astype(float), d.cov, d.prob, float(d.g[s]), price[s], d.U[s],
                            fixed=d.F[s] if slot else None, min_lot=p.min_lot, time_limit=1.0)
            if res is None:
                ok = False
                break
            total += res[0]
            q_resp[s] = res[1]
            if d.elapsed() > deadline:
                ok = False
                break
        if not ok:
            break
        best = min(best, total)
        log.debug("dual ascent: L=%.6g best=%.6g primal=%.6g", total, best, d.best_obj)
        sub_w = p.capacity_m3 - p.volume_m3 @ q_resp
        sub_b = (float(p.budget) - float((p.unit_value @ q_resp).sum())) if has_b else 0.0
        norm2 = float(sub_w @ sub_w) + sub_b * sub_b
        if norm2 <= 0 or not np.isfinite(d.best_obj):
            break
        step = max(total - d.best_obj, 1e-9 * abs(total)) / norm2
        lam = np.maximum(lam - step * sub_w, 0.0)
        if has_b:
            mu = max(mu - step * sub_b, 0.0)
        if (best - d.best_obj) <= d.settings.mip_gap * max(abs(d.best_obj), 1e-9):
            break
    return best


def _reoptimize(d: _Decomp, order: np.ndarray, deadline: float) -> int:
    """Exact block-coordinate steps on the true objective: one SKU at a time, the others fixed.

    Each SKU may use its own stock's volume plus what is free in every warehouse (and the
    budget left); the plan stays feasible and never gets worse. Returns the SKUs improved.
    """
    p = d.p
    q = d.q.copy()
    room = p.capacity_m3 - p.volume_m3 @ q
    money = None if p.budget is None else float(p.budget) - float((p.unit_value @ q).sum())
    cur = d.g * (d.flow @ d.prob) - (d.charge * q).sum(axis=1) - (d.F * (q > 0)).sum(axis=1)
    changed = []
    for s in order:
        if d.elapsed() > deadline:
            break
        v = p.volume_m3[s]
        upper = np.where(p.allowed[s], np.minimum(d.U[s], np.floor((room + v * q[s]) / v + 1e-9)), 0.0)
        m_left = None if money is None else money + float(p.unit_value[s] * q[s].sum())
        res = solve_sku(d.dem[s].astype(float), d.cov, d.prob, float(d.g[s]), d.charge[s], upper,
                        fixed=d.F[s], min_lot=p.min_lot, value_per_unit=float(p.unit_value[s]),
                        money=m_left, time_limit=1.0)
        if res is None:
            continue
        # the solver's value is exact for its own plan only if optimal; re-check by the oracle later
        new_q = res[1]
        if p.min_lot > 0:
            new_q = np.where(new_q >= p.min_lot, new_q, 0.0)
        if np.array_equal(new_q, q[s]):
            continue
        f, _ = d.oracle(new_q[None, :], d.dem[s : s + 1], want_delta=False)
        val = float(d.g[s] * (f[0] @ d.prob)) - float(d.charge[s] @ new_q) - float(d.F[s] @ (new_q > 0))
        if val > cur[s] + 1e-9 * max(1.0, abs(cur[s])):
            room -= v * (new_q - q[s])
            if money is not None:
                money -= float(p.unit_value[s] * (new_q - q[s]).sum())
            q[s] = new_q
            cur[s] = val
            changed.append(s)
    if changed:
        d.refresh(q, np.array(changed))
        d.record()
    return len(changed)


def solve_decomp(problem: StockingProblem, settings: Settings) -> Outcome:
    """Decomposition back-end (see module docstring)."""
    settings.check_options(OPTIONS, where="stocking back-end decomp")
    if problem.has_start:
        raise ConfigError("the decomp stocking back-end does not model starting inventory (on_hand); "
                          "use highs, cbc or scip, or a rule (newsvendor, days_of_cover)")
    t_build = time.perf_counter()
    S, W, _, _ = problem.shape
    if problem.zone_groups().covers.shape[1] == 0 or not (problem.demand > 0).any():
        # nothing can be served fast: stocking only costs, the empty plan is optimal
        return Outcome(np.zeros((S, W)), SolveStatus.OPTIMAL, 0.0, 0.0, time.perf_counter() - t_build, 0.0,
                       "nothing to serve on the fast promise: empty plan is optimal")
    d = _Decomp(problem, settings)
    start = settings.option("start", "newsvendor")
    q0 = newsvendor(problem) if start == "newsvendor" else np.zeros((S, W))
    t_ref = time.perf_counter()
    d.refresh(q0)
    refresh_s = time.perf_counter() - t_ref  # cost of one full oracle pass (guards late refreshes)
    build_s = time.perf_counter() - t_build
    d.t0 = t_build  # the time limit covers building too
    # at scale the bound waits for the exact phase (which always computes it): one pass less
    d.record()
    # at scale the exact evaluation after the solve (solve.finalize: an oracle pass and the
    # per-warehouse allocation) takes about half of one full oracle pass: leave room for it
    limit = settings.time_limit * (0.85 if S * problem.n_scenarios > 300_000 else 1.0)
    limit = min(limit, settings.time_limit - 0.6 * refresh_s)
    max_sweeps = int(settings.option("max_sweeps", 60))
    # with slot costs the column moves are weak and the exact per-SKU phase does most of the work
    default_share = 0.15 if problem.has_slotting else (0.3 if S <= 2000 else 0.55)
    ascent_share = float(settings.option("ascent_share", default_share))
    ascent_end = ascent_share * limit
    prev_lam: np.ndarray | None = None
    sweep_s = 0.0  # duration of the last full sweep: the re-clearing after the exact phase needs one
    for i in range(max_sweeps):
        if d.elapsed() > ascent_end or d.gap() <= settings.mip_gap:
            break
        t_sw = d.elapsed()
        # the first sweep may run on to the end: cut between its colour classes, the columns not
        # yet cleared would keep the start plan and the incumbent would be poor
        more = d.sweep(0.95 * limit if i == 0 else ascent_end)
        sweep_s = d.elapsed() - t_sw
        if not more:
            break
        # the prices settle long before every SKU stops moving; the exact phase does the rest
        if i >= 3 and prev_lam is not None and np.all(np.abs(d.lam - prev_lam) <= 0.005 * np.maximum(prev_lam, 1e-9)):
            break
        prev_lam = d.lam.copy()
    d.repair_budget()
    d.record()
    d.polish(int(settings.option("polish_rounds", 6)), 0.95 * limit)
    d.record()
    n_exact = n_reopt = 0
    log.debug("decomp: ascent done at %.1fs: primal %.6g bound %.6g", d.elapsed(), d.best_obj, d.best_ub)
    end = 0.95 * limit
    if d.gap() > settings.mip_gap and ascent_share < 1.0:
        left = max(end - d.elapsed(), 0.0)
        # leave room for one full re-clearing sweep around the switched SKUs (it turns the exact
        # responses into a feasible plan; without it they are lost)
        exact_end = d.elapsed() + min(0.75 * left, max(left - 1.2 * sweep_s, 0.4 * left))
        log.debug("decomp: exact phase from %.1fs to %.1fs", d.elapsed(), exact_end)
        ub, n_exact = _exact_phase(d, exact_end)
        d.best_ub = min(d.best_ub, ub)
        log.debug("decomp: exact phase done at %.1fs: %d SKUs, bound %.6g (phase %.6g), primal %.6g",
                  d.elapsed(), n_exact, d.best_ub, ub, d.best_obj)
        clear_end = d.elapsed() + 0.4 * max(end - d.elapsed(), 0.0)
        for j in range(max_sweeps):  # re-balance capacity around the switched SKUs
            if d.elapsed() > clear_end or d.gap() <= settings.mip_gap:
                break
            # the first sweep may run to the end: stopping it between colour classes would keep
            # the plan from before the switch
            if not d.sweep(end if j == 0 else clear_end):
                break
        d.polish(int(settings.option("polish_rounds", 6)), end)
        d.record()
        log.debug("decomp: re-clearing done at %.1fs: primal %.6g bound %.6g", d.elapsed(), d.best_obj, d.best_ub)
        per = (d.elapsed() / max(n_exact, 1)) if n_exact else np.inf
        if n_exact and d.gap() > settings.mip_gap and per * S * 6 < (0.8 * limit - d.elapsed()):
            d.best_ub = min(d.best_ub, _dual_ascent(d, 0.85 * limit))
        # exact one-SKU re-optimisation: with full warehouses each SKU can only re-arrange its own
        # stock, which the column moves already do; it found nothing in any benchmark run without
        # slot costs or a budget, so there the time goes to the exact phase and the swaps instead
        reopt = problem.has_slotting or problem.budget is not None or bool(settings.option("reoptimize", False))
        if reopt and d.gap() > settings.mip_gap:
            # most valuable SKUs first, until the time is used
            if d.best_q is not None and not np.array_equal(d.best_q, d.q):
                d.refresh(d.best_q)
            value = d.g * (d.flow @ d.prob) - (d.charge * d.q).sum(axis=1)
            order = np.argsort(value, kind="stable")[::-1]
            n_reopt = _reoptimize(d, order, 0.93 * limit)
            log.debug("decomp: re-optimisation done at %.1fs: %d SKUs improved, primal %.6g",
                      d.elapsed(), n_reopt, d.best_obj)
    # capacity swaps between SKUs at full warehouses, until nothing gains or time is up
    n_swaps = 0
    swaps_ok = True
    if d.best_q is not None and not np.array_equal(d.best_q, d.q):
        # a full oracle pass: only if it fits in the time left (else the best plan is returned as is)
        swaps_ok = d.elapsed() + 1.5 * refresh_s < 0.97 * limit
        if swaps_ok:
            d.refresh(d.best_q)
    while swaps_ok and d.elapsed() < 0.97 * limit and d.gap() > settings.mip_gap:
        moved = False
        for cls in d.colours:
            moved |= d.swap_round(cls)
        n_swaps += int(moved)
        if not moved:
            break
    log.debug("decomp: swaps done at %.1fs: %d rounds, primal %.6g bound %.6g", d.elapsed(), n_swaps,
              d.best_obj, d.best_ub)
    # a last look for better prices for the bound, on the final cuts (each look only if it fits)
    lam0 = d.lam.copy()
    # (at the prices themselves only at scale: below it every record computed that one)
    for f in (0.9, 1.1) if d.cheap_bound else (1.0, 0.9, 1.1):
        if not swaps_ok or d.elapsed() + 1.2 * d.bound_s > 0.97 * limit:
            break
        d.best_ub = min(d.best_ub, d.bound(lam0 * f, d.mu * f))
    solve_s = d.elapsed() - build_s
    q = d.best_q if d.best_q is not None else np.zeros((S, W))
    gap = d.gap()
    status = SolveStatus.OPTIMAL if gap <= settings.mip_gap else (
        SolveStatus.TIME_LIMIT if d.elapsed() >= 0.75 * limit else SolveStatus.FEASIBLE)
    msg = (f"decomp: {len(d.history)} evaluations, {len(d.colours)} warehouse colour classes, "
           f"{n_exact} SKUs solved exactly for the bound, {n_reopt} improved by exact re-optimisation, "
           f"{n_swaps} swap rounds, gap {100 * gap:.3f}%")
    return Outcome(q, status, d.best_obj, d.best_ub, build_s, solve_s, msg,
                   wall_seconds=build_s + solve_s, time_limit=settings.time_limit)
