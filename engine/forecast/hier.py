"""Hierarchical (top-down) forecasting for sparse (SKU, zone) demand at city scale.

A city of 20 000 SKUs and 30 zones has 600 000 (SKU, zone) series, nearly all intermittent
(a unit every few weeks). Forecasting each of them on its own is slow, needs the dense
(series × day) panel in memory, and learns little from so few units. Here the forecast is made
where the signal is — per SKU, on the SKU's total over zones, with any registered method
(``auto`` by default) — and split to zones by each SKU's zone shares:

- share of series i (SKU s, zone z) = (w_i + a · pi_i) / (W_s + a), with w_i the SKU's recent
  demand in z (an exponentially decaying sum, half-life ``hier_half_life`` periods), W_s their
  sum, and pi_i the city-wide weight of zone z renormalised over the SKU's zones: a SKU with
  few units is pulled towards the city's mix with the strength of ``hier_prior`` units;
- mean of series i = share_i × SKU mean, so the zone forecasts of a SKU add up to its SKU
  forecast on every day (the hierarchy is coherent by construction, no reconciliation step is
  needed);
- the SKU total is negative binomial NB(mu_s, alpha_s) (dispersion from the SKU-level holdout);
  splitting it to zones by the shares is binomial thinning, which keeps the gamma-Poisson shape:
  zone i is NB(share_i · mu_s, alpha_s). The quantiles come from that marginal;
- joint scenarios are the SKU-level copula draws (market factor, persistence and day-to-day
  correlation from ``distribution.py``), each unit of a SKU's draw given to a zone at random
  with the shares (a multinomial split): every scenario's zone counts add up exactly to its SKU
  count, and the scenarios are stored sparsely (:class:`~engine.forecast.scenarios.SparseScenarios`).

It never builds the dense (series × day) history: everything per series is computed from the
non-zero cells (:class:`~engine.forecast.panel.SparseHistory`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from engine.errors import ConfigError
from engine.forecast import distribution as dist
from engine.forecast.panel import PSEUDO_ZONE, Panel, SparseHistory, classify, classify_counts
from engine.forecast.result import DEFAULT_QUANTILES, ForecastResult
from engine.forecast.scenarios import SparseScenarios
from engine.solver import SolveStats, SolveStatus, stopwatch

NAME = "hierarchical"
OPTIONS = {"hier_base", "hier_half_life", "hier_prior", "hier_auto_cells"}
# auto forecasts top-down when the dense (series × period) history would exceed this many cells
AUTO_CELLS = 20_000_000


@dataclass(frozen=True, slots=True)
class _Parts:
    """What the top-down fit needs, from a dense panel or from the sparse history alike."""

    sku_panel: Panel  # (S, T) SKU totals
    series: pd.DataFrame  # (N) sku, zone
    sku_index: np.ndarray  # (N,) SKU row of each series in sku_panel
    recent: np.ndarray  # (N,) decayed recent demand per series
    zone_weight: np.ndarray  # (N,) city-wide weight of each series' zone
    segment: np.ndarray  # (N,) demand class of each series
    notes: tuple[str, ...]


def _half_life(opts: Mapping[str, Any], freq: str) -> float:
    hl = float(opts.get("hier_half_life", 91 if freq == "D" else 13))
    if not np.isfinite(hl) or hl <= 0:
        raise ConfigError(f"options hier_half_life must be a positive number of periods, got {hl!r}")
    return hl


def _sku_codes(series: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    codes, names = pd.factorize(series["sku"], sort=True)
    return codes.astype(np.int64), pd.DataFrame({"sku": np.asarray(names, dtype=object),
                                                  "zone": PSEUDO_ZONE})


def parts_from_sparse(sh: SparseHistory, opts: Mapping[str, Any]) -> _Parts:
    """Top-down inputs from the non-zero cells of the history."""
    idx, names = _sku_codes(sh.series)
    decay = 0.5 ** ((sh.t - 1 - np.arange(sh.t)) / _half_life(opts, sh.freq))
    w = np.bincount(sh.sid, weights=sh.qty * decay[sh.tid], minlength=sh.n)
    zcodes, _ = pd.factorize(sh.series["zone"])
    zw = np.bincount(zcodes, weights=w, minlength=int(zcodes.max()) + 1 if len(zcodes) else 0)
    seg = classify_counts(np.bincount(sh.sid, minlength=sh.n), np.bincount(sh.sid, weights=sh.qty, minlength=sh.n),
                          np.bincount(sh.sid, weights=sh.qty**2, minlength=sh.n), sh.t)
    return _Parts(sh.aggregate(idx, len(names), names), sh.series, idx, w, zw[zcodes], seg, sh.notes)


def parts_from_panel(panel: Panel, opts: Mapping[str, Any]) -> _Parts:
    """Top-down inputs from a dense panel (backtests and small cases)."""
    idx, names = _sku_codes(panel.series)
    y_sku = np.zeros((len(names), panel.t))
    np.add.at(y_sku, idx, panel.y)
    sku_panel = Panel(y=y_sku, dates=panel.dates, series=names, freq=panel.freq, ev=panel.ev,
                      ev_names=panel.ev_names, notes=panel.notes)
    decay = 0.5 ** ((panel.t - 1 - np.arange(panel.t)) / _half_life(opts, panel.freq))
    w = panel.y @ decay
    zcodes, _ = pd.factorize(panel.series["zone"])
    zw = np.bincount(zcodes, weights=w, minlength=int(zcodes.max()) + 1 if len(zcodes) else 0)
    return _Parts(sku_panel, panel.series, idx, w, zw[zcodes], classify(panel.y), panel.notes)


def zone_shares(sku_index: np.ndarray, recent: np.ndarray, zone_weight: np.ndarray, n_sku: int,
                prior: float) -> np.ndarray:
    """Share of each series in its SKU, shrunk towards the city's zone mix; sums to 1 per SKU."""
    zw = np.maximum(zone_weight, 0.0)
    zsum = np.bincount(sku_index, weights=zw, minlength=n_sku)[sku_index]
    n_in = np.bincount(sku_index, minlength=n_sku)[sku_index]
    pi = np.where(zsum > 0, zw / np.where(zsum > 0, zsum, 1.0), 1.0 / np.maximum(n_in, 1))
    tot = np.bincount(sku_index, weights=recent, minlength=n_sku)[sku_index] + prior
    # a SKU without recent demand (and no prior) takes the city's mix
    return np.where(tot > 0, (recent + prior * pi) / np.where(tot > 0, tot, 1.0), pi)


def nb_quantiles_sparse(mean: np.ndarray, alpha: np.ndarray, levels: Sequence[float]) -> np.ndarray:
    """(N, H, Q) NB quantiles as float32, with scipy's ppf only where the zero mass P(0)
    is below the highest level (elsewhere every asked quantile is 0)."""
    lv = np.asarray(levels, dtype=float)
    n = 1.0 / alpha[:, None]
    p = n / (n + np.maximum(mean, 0.0))
    p0 = np.exp(n * np.log(p))  # P(X = 0) = p ** n
    out = np.zeros(mean.shape + (len(lv),), dtype=np.float32)
    need = p0 < lv[-1]
    if need.any():
        nn = np.broadcast_to(n, mean.shape)[need]
        q = stats.nbinom.ppf(lv[None, :], nn[:, None], p[need][:, None])
        out[need] = np.nan_to_num(q, nan=0.0, posinf=0.0)
    return out


def split_scenarios(sku_draws: np.ndarray, sku_index: np.ndarray, share: np.ndarray, n_series: int,
                    seed: int) -> SparseScenarios:
    """Give every unit of each (scenario, SKU, day) draw to one of the SKU's series at random
    with the shares: a multinomial split, stored sparsely."""
    K, S, H = sku_draws.shape
    k, s, t = np.nonzero(sku_draws)
    n = sku_draws[k, s, t].astype(np.int64)
    order = np.argsort(sku_index, kind="stable")  # series of one SKU contiguous
    idx_sorted = sku_index[order]
    first = np.searchsorted(idx_sorted, np.arange(S), side="left")
    last = np.searchsorted(idx_sorted, np.arange(S), side="right") - 1
    # cumulative shares offset by the SKU number: one increasing array over all series
    cs = np.cumsum(share[order])
    cum = cs - np.concatenate([[0.0], cs])[first][idx_sorted]
    key = idx_sorted + np.minimum(cum, 1.0)
    rng = np.random.default_rng([int(seed), 0x5EED])
    unit_k = np.repeat(k, n)
    unit_s = np.repeat(s, n)
    unit_t = np.repeat(t, n)
    u = rng.random(unit_s.size)
    pos = np.searchsorted(key, unit_s + u, side="left")
    pos = np.clip(pos, first[unit_s], last[unit_s])
    return SparseScenarios.from_cells((K, n_series, H), unit_k, order[pos], unit_t, np.ones(unit_s.size))


# SKUs per chunk of the prediction (quantiles, SKU draws, zone split). Fixed, so that the
# chunks, and the seeds derived for them, are the same however many workers draw them.
PREDICT_CHUNK_SKUS = 4096

ChunkMap = Callable[..., list[Any]]  # map(f, chunks, shared) -> [f(chunk, shared) for chunk in chunks]


def _serial_map(f: Callable[[Any, Any], Any], chunks: Sequence[Any], shared: Any, **_: Any) -> list[Any]:
    return [f(c, shared) for c in chunks]


def chunk_seed(seed: int, chunk: int) -> int:
    """The seed of one SKU chunk, from the run's seed and the chunk's number alone (chunk 0
    keeps the run's seed, so a forecast of one chunk draws what it drew before chunking)."""
    if chunk == 0:
        return int(seed)
    return int(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, int(chunk)]).generate_state(1)[0])


@dataclass(frozen=True, slots=True, eq=False)
class PredictData:
    """What each prediction chunk needs; sent once to every worker of a cluster."""

    sku_mean: np.ndarray  # (S, H)
    sku_alpha: np.ndarray  # (S,)
    dependence: dist.Dependence
    skus: np.ndarray  # (S,) names, sorted (the SKU panel's order)
    series_order: np.ndarray  # (N,) series sorted by SKU (stable)
    sku_first: np.ndarray  # (S + 1,) where each SKU's series start in series_order
    sku_index: np.ndarray  # (N,)
    share: np.ndarray  # (N,)
    levels: np.ndarray  # (Q,)
    market: np.ndarray | None  # (K, 1, H) the market factor every chunk shares (None: K = 0)
    n_scenarios: int
    seed: int


@dataclass(frozen=True, slots=True, eq=False)
class PredictChunk:
    """One chunk's part of the prediction: its series' quantiles and non-zero scenario cells."""

    series: np.ndarray  # (n,) global series numbers
    quantiles: np.ndarray  # (n, H, Q) float32
    k: np.ndarray
    cell_series: np.ndarray  # global series numbers
    day: np.ndarray
    quantity: np.ndarray


def predict_chunk(span: tuple[int, int, int], data: PredictData) -> PredictChunk:
    """Quantiles and scenarios of the SKUs ``lo:hi`` (chunk number ``c``); importable, so that
    a Dask worker can run it on the data scattered to it."""
    c, lo, hi = span
    rows = data.series_order[data.sku_first[lo] : data.sku_first[hi]]
    alpha = data.sku_alpha[data.sku_index[rows]]
    mean = data.share[rows, None] * data.sku_mean[data.sku_index[rows]]
    q = nb_quantiles_sparse(mean, alpha, data.levels)
    K = data.n_scenarios
    if K == 0 or rows.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return PredictChunk(rows, q, empty, empty, empty, empty)
    dep = data.dependence
    # every chunk floors the SKU correlations at the one the whole forecast would use
    rho = dep.rho_sku[lo:hi] if len(dep.rho_sku) == len(data.skus) else np.zeros(hi - lo)
    floor = min(dep.rho_market, float(dep.rho_sku.min())) if len(dep.rho_sku) == len(data.skus) else 0.0
    dep_c = dist.Dependence(rho, dep.level_share, dep.phi, dep.level_share_common, floor, dep.level_share_market)
    seed = chunk_seed(data.seed, c)
    draws = dist.sample_scenarios(data.sku_mean[lo:hi], data.sku_alpha[lo:hi], dep_c, data.skus[lo:hi], K, seed,
                                  market=None if c == 0 else data.market)
    scen = split_scenarios(draws, data.sku_index[rows] - lo, data.share[rows], rows.size, seed)
    return PredictChunk(rows, q, scen.k, rows[scen.series], scen.day, scen.quantity)


def predict_chunks(n_sku: int, chunk: int | None = None) -> list[tuple[int, int, int]]:
    """(chunk number, first SKU, end SKU) of every chunk."""
    chunk = int(chunk or PREDICT_CHUNK_SKUS)
    return [(c, lo, min(lo + chunk, n_sku)) for c, lo in enumerate(range(0, max(n_sku, 1), chunk))]


@dataclass(frozen=True, slots=True)
class HierarchicalFit:
    """A fitted top-down forecast: the SKU-level fit and each series' share of its SKU."""

    sku_fit: Any  # FittedForecast of the SKU totals
    series: pd.DataFrame
    sku_index: np.ndarray  # (N,)
    share: np.ndarray  # (N,)
    segment: np.ndarray  # (N,)
    base: str
    notes: tuple[str, ...]
    build_seconds: float
    fit_seconds: float
    method: str = NAME

    @property
    def mean(self) -> np.ndarray:
        """(N, h) series means: share × SKU mean (they add up to the SKU mean per day)."""
        return self.share[:, None] * self.sku_fit.mean[self.sku_index]

    @property
    def sku_mean(self) -> np.ndarray:
        return self.sku_fit.mean

    def predict(
        self, *, quantiles: Sequence[float] = DEFAULT_QUANTILES, n_scenarios: int = 0, seed: int = 0,
        chunk_map: ChunkMap | None = None,
    ) -> ForecastResult:
        """Quantiles of each zone's NB marginal and the SKU draws split to zones (sparse).

        The work is done in fixed chunks of ``PREDICT_CHUNK_SKUS`` SKUs, each with a seed
        derived from ``seed`` and its number (:func:`chunk_seed`) and all sharing one market
        factor, so the result is the same whoever computes the chunks: ``chunk_map(f, chunks,
        shared)`` (e.g. a Dask cluster's, :mod:`engine.stocking.cluster`) must return
        ``[f(chunk, shared) for chunk in chunks]`` in order; by default they run here.
        """
        from engine.forecast.core import _check_quantiles

        levels = _check_quantiles(quantiles)
        if isinstance(n_scenarios, bool) or int(n_scenarios) != n_scenarios or n_scenarios < 0:
            raise ConfigError(f"n_scenarios must be a whole number >= 0, got {n_scenarios!r}")
        f = self.sku_fit
        with stopwatch() as elapsed:
            mean = self.mean
            alpha = f.alpha[self.sku_index]
            K, N = int(n_scenarios), len(self.series)
            n_sku, H = f.mean.shape
            order = np.argsort(self.sku_index, kind="stable")
            first = np.searchsorted(self.sku_index[order], np.arange(n_sku + 1), side="left")
            dep = f.dependence
            market = (dist._temporal(np.random.default_rng(int(seed)), (K, 1, H), dep.level_share_market, dep.phi)
                      if K > 0 else None)  # the first draw of chunk 0's stream, as sample_scenarios makes it
            data = PredictData(f.mean, f.alpha, dep, f.panel.series["sku"].to_numpy().astype(str), order, first,
                               self.sku_index, self.share, np.asarray(levels, dtype=float), market, K, int(seed))
            parts = (chunk_map or _serial_map)(predict_chunk, predict_chunks(n_sku), data, stage="forecast")
            q = np.zeros((N, H, len(levels)), dtype=np.float32)
            for part in parts:
                q[part.series] = part.quantiles
            cells = [np.concatenate([getattr(pt, name) for pt in parts]) if parts else np.zeros(0, dtype=np.int64)
                     for name in ("k", "cell_series", "day", "quantity")]
            scen = SparseScenarios.from_cells((K, N, H), *cells)
        p = f.panel
        dates = tuple(d.date() for d in p.dates[p.t:])
        chosen_sku = np.asarray(f.chosen, dtype=object)[self.sku_index]
        chosen = tuple(f"{NAME}:{c}" for c in chosen_sku)
        stats_ = SolveStats(
            backend=self.method, status=SolveStatus.FEASIBLE, objective=f.holdout.get("wmape"),
            build_seconds=self.build_seconds, solve_seconds=self.fit_seconds + elapsed(),
            message="; ".join(self.notes),
        )
        return ForecastResult(
            method=self.method, series=self.series.copy(), dates=dates, mean=mean, quantile_levels=levels,
            quantiles=q, scenarios=scen, chosen=chosen, segment=tuple(str(s) for s in self.segment),
            dispersion=alpha, notes=self.notes, stats=stats_, dependence=f.dependence.to_dict(),
            holdout={**{f"sku_{k}": v for k, v in f.holdout.items()}},
        )


def fit_parts(parts: _Parts, opts: Mapping[str, Any], *, threads: int = 1, build_seconds: float = 0.0,
              label: str = NAME, budget: float | None = None) -> HierarchicalFit:
    """Fit the SKU totals with ``hier_base`` (default ``auto``) and the zone shares."""
    from engine.forecast.core import fit_panel

    base = str(opts.get("hier_base", "auto"))
    if base == NAME:
        raise ConfigError(f"options hier_base cannot be {NAME!r} itself")
    prior = float(opts.get("hier_prior", 2.0))
    if not np.isfinite(prior) or prior < 0:
        raise ConfigError(f"options hier_prior must be a number >= 0, got {prior!r}")
    with stopwatch() as elapsed:
        sku_fit = fit_panel(parts.sku_panel, base, opts, threads=threads, budget=budget)
        n_sku = parts.sku_panel.n
        share = zone_shares(parts.sku_index, parts.recent, parts.zone_weight, n_sku, prior)
    notes = list(parts.notes)
    notes.append(f"{label}: {parts.sku_panel.n} SKU totals forecast with {base}, split to "
                 f"{len(parts.series)} (sku, zone) series by recent zone shares (prior {prior:g} units)")
    notes.extend(n for n in sku_fit.notes if n not in notes)
    return HierarchicalFit(
        sku_fit=sku_fit, series=parts.series, sku_index=parts.sku_index, share=share, segment=parts.segment,
        base=base, notes=tuple(dict.fromkeys(notes)), build_seconds=build_seconds,
        fit_seconds=elapsed(),
    )


def prefer_hierarchical(n_series: int, n_periods: int, n_skus: int, opts: Mapping[str, Any]) -> bool:
    """auto's rule: top-down when the dense history would be large and SKUs have several zones."""
    cells = float(opts.get("hier_auto_cells", AUTO_CELLS))
    return n_series * n_periods > cells and n_series > n_skus
