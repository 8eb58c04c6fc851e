"""Predictive distribution around a point forecast: negative binomial marginals + Gaussian copula.

Each (series, day) gets a negative binomial with the forecast mean ``mu`` and variance
``mu + alpha * mu**2``. ``alpha`` per series comes from out-of-sample residuals (a holdout
window before the forecast origin), shrunk towards its segment, so intervals widen exactly as
much as the method actually missed. Joint scenarios put the marginals on a Gaussian copula:

    z[k, i, t] = sqrt(rho_g) * G[k, t] + sqrt(rho_s - rho_g) * c[k, s, t] + sqrt(1 - rho_s) * e[k, i, t]
    G, c, e:  x[t] = sqrt(w) * L + sqrt(1 - w) * a[t],   a AR(1) with coefficient phi

``rho_g`` is the correlation all series share (a market-wide factor ``G``: a holiday week that
every forecast misses together), ``rho_s`` the cross-zone correlation of SKU ``s`` (a factor
shared by its zones), ``w`` the share of a level error persistent over the horizon (one value
per factor: a forecast that misses a SKU's level misses it in every zone and on every day) and
``phi`` the day-to-day autocorrelation, all estimated from the same standardised holdout
residuals. Each day's marginal stays exactly the negative binomial the quantiles come from.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special, stats

ALPHA_MIN = 1e-3  # near-Poisson floor
ALPHA_MAX = 50.0


@dataclass(frozen=True, slots=True)
class Dependence:
    """Copula parameters: per-SKU cross-zone correlation, level share and AR(1) coefficient."""

    rho_sku: np.ndarray  # (M,) in [0, 0.95]
    level_share: float  # zone-specific part: share of a level persistent over the horizon
    phi: float  # AR(1) coefficient of the day-to-day part
    level_share_common: float = 0.0  # the SKU's common factor: its persistent share
    rho_market: float = 0.0  # correlation every series shares (holidays, weather, the economy)
    level_share_market: float = 0.0

    def to_dict(self) -> dict[str, float]:
        return {
            "cross_zone_corr_mean": float(self.rho_sku.mean()) if len(self.rho_sku) else 0.0,
            "level_share": float(self.level_share),
            "level_share_common": float(self.level_share_common),
            "market_corr": float(self.rho_market),
            "level_share_market": float(self.level_share_market),
            "ar1_phi": float(self.phi),
        }


def fit_dispersion(mu: np.ndarray, y: np.ndarray, groups: np.ndarray, *, prior_periods: float = 14.0) -> np.ndarray:
    """Per-series NB dispersion from holdout forecasts ``mu`` and actuals ``y`` (both (N, H)).

    Method of moments, alpha = sum(e² - mu) / sum(mu²), shrunk towards the pooled value of the
    series' group (segment) with weight H / (H + prior_periods).
    """
    n, h = mu.shape
    excess = ((y - mu) ** 2 - mu).sum(axis=1)
    m2 = (mu**2).sum(axis=1)
    raw = np.where(m2 > 0, np.maximum(excess, 0.0) / np.maximum(m2, 1e-12), np.nan)
    codes, inv = np.unique(groups.astype(str), return_inverse=True)
    g_ex = np.bincount(inv, weights=np.maximum(excess, 0.0), minlength=len(codes))
    g_m2 = np.bincount(inv, weights=m2, minlength=len(codes))
    tot = np.maximum(excess, 0.0).sum() / max(m2.sum(), 1e-12) if m2.sum() > 0 else 0.1
    pooled = np.where(g_m2 > 0, g_ex / np.maximum(g_m2, 1e-12), tot)[inv]
    wgt = h / (h + prior_periods)
    alpha = np.where(np.isnan(raw), pooled, wgt * np.nan_to_num(raw) + (1 - wgt) * pooled)
    return np.clip(alpha, ALPHA_MIN, ALPHA_MAX)


def _nb_params(mu: np.ndarray, alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = 1.0 / alpha
    p = n / (n + np.maximum(mu, 0.0))
    return n, p


def nb_quantiles(mean: np.ndarray, alpha: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """(N, H, Q) quantiles of NB(mean, alpha); monotone in the level by construction."""
    n, p = _nb_params(mean[:, :, None], alpha[:, None, None])
    q = stats.nbinom.ppf(levels[None, None, :], n, p)
    return np.nan_to_num(q, nan=0.0, posinf=0.0)


def _standardised(mu: np.ndarray, y: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    sd = np.sqrt(mu + alpha[:, None] * mu**2)
    return np.where(sd > 0, (y - mu) / np.where(sd > 0, sd, 1.0), 0.0)


def fit_dependence(
    mu: np.ndarray, y: np.ndarray, alpha: np.ndarray, sku: np.ndarray, *, prior_periods: float = 14.0
) -> Dependence:
    """Estimate the copula parameters from holdout forecasts and actuals (both (N, H)).

    From standardised residuals r: ``phi`` is the lag-1 autocorrelation of the within-window
    fluctuations; ``rho`` the same-day correlation between zones of a SKU; the level shares
    of the common factor and of the zone-specific part are then matched to the covariance of
    window totals between zones of a SKU and to the variance of each zone's window total.
    """
    n, h = mu.shape
    r = _standardised(mu, y, alpha)
    active = (mu > 0).any(axis=1)
    codes, inv = np.unique(sku, return_inverse=True)
    m = len(codes)
    if h < 2 or not active.any():
        return Dependence(np.zeros(m), 0.0, 0.0)
    ra = np.where(active[:, None], r, 0.0)
    ract = r[active]
    rc = ract - ract.mean(axis=1, keepdims=True)
    den = (rc**2).sum()
    phi = float(np.clip((rc[:, 1:] * rc[:, :-1]).sum() / den, 0.0, 0.95)) if den > 0 else 0.0
    lags = np.arange(1, h)
    g = 1.0 + 2.0 * float(((1 - lags / h) * phi**lags).sum())  # Var(sum of AR(1)) / H

    # same-day cross-zone correlation per SKU: one common factor shared by the SKU's zones
    nz = np.bincount(inv, weights=active.astype(float), minlength=m)
    s_sum = np.zeros((m, h))
    np.add.at(s_sum, inv, ra)
    s_sq = np.zeros((m, h))
    np.add.at(s_sq, inv, ra**2)
    cross = (s_sum**2 - s_sq).sum(axis=1)
    norm = np.maximum(nz - 1, 0) * s_sq.sum(axis=1)
    multi = norm > 0
    pooled = cross[multi].sum() / norm[multi].sum() if multi.any() else 0.0
    own = np.where(multi, cross / np.where(multi, norm, 1.0), pooled)
    wgt = h / (h + prior_periods)
    rho = np.clip(np.where(multi, wgt * own + (1 - wgt) * pooled, 0.0), 0.0, 0.95)
    rho_pool = float(np.clip(pooled, 0.0, 0.95))

    def share(cov: float, corr: float) -> float:
        """Level share w from a window-total covariance per pair: cov = corr * (w H + (1 - w) g)."""
        if corr <= 0.01:
            return 0.0
        return float(np.clip((cov / corr - g) / max(h - g, 1e-9), 0.0, 0.95))

    # market-wide factor: same-day correlation and window-total covariance between SKUs
    n_act = float(active.sum())
    within_pairs = float((nz * (nz - 1)).sum())
    cross_pairs = n_act * (n_act - 1) - within_pairs
    all_sum = ra.sum(axis=0)
    all_cross = float((all_sum**2 - (ra**2).sum(axis=0)).sum())
    tot = ra.sum(axis=1)  # (N,) window total per series
    sku_tot = np.bincount(inv, weights=tot, minlength=m)
    sku_sq = np.bincount(inv, weights=tot**2, minlength=m)
    rho_g = w_g = 0.0
    if cross_pairs > 0:
        var_day = float((ra**2).sum() / (n_act * h))
        rho_g = float(np.clip((all_cross - cross.sum()) / cross_pairs / h / max(var_day, 1e-12), 0.0, 0.95))
        cov_g = (tot.sum() ** 2 - (sku_tot**2).sum()) / cross_pairs / h
        w_g = share(cov_g, rho_g)
    part_g = rho_g * (w_g * h + (1 - w_g) * g)
    # SKU factor beyond the market: window-total covariance between zones of one SKU
    rho_c = max(rho_pool - rho_g, 0.0)
    w_c = 0.0
    if within_pairs > 0:
        cov_pair = (sku_tot**2 - sku_sq).sum() / within_pairs / h
        w_c = share(cov_pair - part_g, rho_c)
    # variance of each zone's own total -> level share of the zone-specific part
    var_own = float((tot[active] ** 2).mean() / h)
    rho = np.maximum(rho, rho_g)
    rho_bar = float(rho[inv][active].mean())
    explained = part_g + (rho_bar - rho_g) * (w_c * h + (1 - w_c) * g)
    w_idio = share((var_own - explained) / (1 - rho_bar), 1.0) if rho_bar < 0.999 else 0.0
    return Dependence(rho, w_idio, phi, w_c, rho_g, w_g)


def _temporal(rng: np.random.Generator, shape: tuple[int, int, int], w: float, phi: float) -> np.ndarray:
    """Unit-variance paths over the last axis: persistent level + AR(1)."""
    k, m, h = shape
    eps = rng.standard_normal(shape)
    a = np.empty(shape)
    a[..., 0] = eps[..., 0]
    s = np.sqrt(1 - phi**2)
    for t in range(1, h):
        a[..., t] = phi * a[..., t - 1] + s * eps[..., t]
    lvl = rng.standard_normal((k, m, 1))
    return np.sqrt(w) * lvl + np.sqrt(1 - w) * a


def sample_scenarios(
    mean: np.ndarray,
    alpha: np.ndarray,
    dep: Dependence,
    sku: np.ndarray,
    n_scenarios: int,
    seed: int,
    *,
    chunk: int = 2048,
    market: np.ndarray | None = None,
) -> np.ndarray:
    """(K, N, H) integer joint demand paths; same seed, same paths.

    ``market`` (K, 1, H), when given, is the market factor to use instead of drawing one: the
    SKU chunks of one forecast drawn apart (``hier.py``) share the factor drawn for chunk 0.
    """
    n, h = mean.shape
    out = np.zeros((n_scenarios, n, h), dtype=np.int64)
    if n_scenarios == 0 or n == 0:
        return out
    rng = np.random.default_rng(seed)
    codes, inv = np.unique(sku, return_inverse=True)
    if market is None:
        market = _temporal(rng, (n_scenarios, 1, h), dep.level_share_market, dep.phi)
    common = _temporal(rng, (n_scenarios, len(codes), h), dep.level_share_common, dep.phi)
    rho = dep.rho_sku if len(dep.rho_sku) == len(codes) else np.zeros(len(codes))
    rg = min(dep.rho_market, float(rho.min())) if len(rho) else 0.0
    for lo in range(0, n, chunk):
        hi = min(n, lo + chunk)
        idio = _temporal(rng, (n_scenarios, hi - lo, h), dep.level_share, dep.phi)
        r = rho[inv[lo:hi]][None, :, None]
        z = np.sqrt(rg) * market + np.sqrt(r - rg) * common[:, inv[lo:hi], :] + np.sqrt(1 - r) * idio
        u = np.clip(special.ndtr(z), 1e-12, 1 - 1e-12)
        nn, pp = _nb_params(mean[None, lo:hi, :], alpha[None, lo:hi, None])
        # the draw is 0 wherever u is within the zero mass P(0) = p ** n: scipy's (slow) ppf
        # only for the others, which at city scale are a small minority
        nn, pp = np.broadcast_to(nn, u.shape), np.broadcast_to(pp, u.shape)
        pos = u > np.exp(nn * np.log(pp)) * (1 - 1e-9)
        block = np.zeros(u.shape, dtype=np.int64)
        draw = stats.nbinom.ppf(u[pos], nn[pos], pp[pos])
        block[pos] = np.nan_to_num(draw, nan=0.0, posinf=0.0).astype(np.int64)
        out[:, lo:hi, :] = block
    return out
