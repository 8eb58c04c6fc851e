"""Customer segments of an Olist instance, derived from the real customer histories.

Olist's ``customer_id`` is one per order; ``customer_unique_id`` is the person across orders.
The rule, stated in the manifest (``[[segments]].rule``, ``[notes.segments]``) and in
docs/olist.md, classifies every order by what was known when it was placed (no look-ahead):

- **frequency**: an order is ``repeat`` when the same person placed an order on an *earlier
  calendar day* (any status but canceled or unavailable; within ``repeat_within_days`` when
  that is set: recency), otherwise ``new``. A person's first order stays ``new`` even when they
  order again later; two orders on the same day (one basket split in two) do not make a repeat;
- **region** (regional networks only): ``capital`` when the customer's city and state are the
  capital's (São Paulo city), otherwise ``interior``.

Segment ids are ``repeat`` / ``new`` for a city network (its customers all share one region)
and ``capital-repeat``, ``capital-new``, ``interior-repeat``, ``interior-new`` for a regional one.
Monetary value is not used: one order's value says little about the person, and the sample is
too thin for a customer-value model.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from engine.importers.olist_config import OlistConfig, rule_segment_ids

NOT_A_PURCHASE = ("canceled", "unavailable")  # statuses that do not count as an earlier purchase


def segment_ids(cfg: OlistConfig) -> tuple[str, ...]:
    """The segment ids the rule of ``cfg`` produces, in manifest order."""
    return rule_segment_ids(cfg.segment_by_region)


def segment_of(repeat: np.ndarray, capital: np.ndarray, cfg: OlistConfig) -> np.ndarray:
    """Segment id of each order from its two flags."""
    freq = np.where(np.asarray(repeat, dtype=bool), "repeat", "new")
    if not cfg.segment_by_region:
        return freq.astype(object)
    reg = np.where(np.asarray(capital, dtype=bool), "capital-", "interior-")
    return np.char.add(reg.astype(str), freq.astype(str)).astype(object)


def customer_flags(orders: pd.DataFrame, cfg: OlistConfig) -> pd.DataFrame:
    """Per order (index ``order``): ``repeat``, ``capital``, ``segment`` and ``last_purchase``
    (the person's latest counted purchase day before the order's day, NaT if none).

    ``orders`` holds every order of the source (any status) with ``order``, ``customer``,
    ``purchased``, ``status``, ``city`` and ``state``.
    """
    day = pd.to_datetime(orders["purchased"]).dt.normalize().astype("datetime64[ns]")
    left = pd.DataFrame({"order": orders["order"].to_numpy(), "customer": orders["customer"].to_numpy(),
                         "day": day.to_numpy()}).sort_values("day", kind="stable")
    counted = ~orders["status"].isin(NOT_A_PURCHASE).to_numpy()
    right = (pd.DataFrame({"customer": orders["customer"].to_numpy()[counted], "last_purchase": day.to_numpy()[counted]})
             .drop_duplicates().sort_values("last_purchase", kind="stable"))
    right["day"] = right["last_purchase"]
    # the latest counted purchase strictly before the order's day (same day does not count)
    m = pd.merge_asof(left, right, on="day", by="customer", allow_exact_matches=False, direction="backward")
    m = m.set_index("order").reindex(orders["order"].to_numpy())
    gap = (m["day"] - m["last_purchase"]).dt.days
    repeat = m["last_purchase"].notna()
    if cfg.repeat_within_days:
        repeat &= gap <= cfg.repeat_within_days
    city = orders["city"].to_numpy()
    state = orders["state"].to_numpy()
    capital = (city == cfg.capital_city) & (state == cfg.capital_state)
    out = pd.DataFrame({"repeat": repeat.to_numpy(dtype=bool), "capital": capital,
                        "last_purchase": m["last_purchase"].to_numpy()}, index=pd.Index(orders["order"], name="order"))
    out["segment"] = segment_of(out["repeat"].to_numpy(), capital, cfg)
    return out


def rule_text(cfg: OlistConfig) -> str:
    """The rule in one sentence (written to the manifest)."""
    recency = (f"within the {cfg.repeat_within_days} days before" if cfg.repeat_within_days
               else "on any calendar day before")
    text = (f"repeat = the same person (customer_unique_id) placed an order {recency} this order's day "
            f"(statuses other than {' and '.join(NOT_A_PURCHASE)}; the same day does not count), new otherwise "
            "(a first order is new even if more follow: no look-ahead)")
    if cfg.segment_by_region:
        text += (f"; capital = customer city {cfg.capital_city!r} in {cfg.capital_state}, interior otherwise; "
                 "segment = region-frequency")
    return text


def segment_rule_of(segment: str, cfg: OlistConfig) -> str:
    """The rule of one segment, short (``[[segments]].rule``)."""
    parts = segment.split("-")
    words = {"repeat": "an order by the same customer_unique_id on an earlier day (notes.segments.rule)",
             "new": "no order by the same customer_unique_id on an earlier day (notes.segments.rule)",
             "capital": f"customer in {cfg.capital_city}/{cfg.capital_state}",
             "interior": f"customer outside {cfg.capital_city}/{cfg.capital_state}"}
    return "; ".join(words[p] for p in parts)


def shares(segments: pd.Series, cfg: OlistConfig) -> dict[str, float]:
    """Share of each segment id among ``segments`` (4 decimals, summing to exactly 1)."""
    ids = segment_ids(cfg)
    counts = segments.value_counts().reindex(list(ids), fill_value=0).to_numpy(dtype=float)
    if counts.sum() == 0:
        counts = np.ones(len(ids))
    sh = np.round(counts / counts.sum(), 4)
    sh[int(np.argmax(sh))] += round(1.0 - float(sh.sum()), 4)
    return {i: round(float(s), 4) for i, s in zip(ids, sh, strict=True)}


def draw_repeat(lines: pd.DataFrame, days: pd.DatetimeIndex, t_idx: np.ndarray, capital: np.ndarray,
                half_width: int, rng: np.random.Generator) -> np.ndarray:
    """Repeat flags of scaled lines: line ``i`` on day ``days[t_idx[i]]`` of region class
    ``capital[i]`` is a repeat with the real repeat share of its class over ``t ± half_width``
    days (one pseudo-line at the class's share over the whole source keeps thin windows sane).
    """
    date = pd.to_datetime(lines["purchased"]).dt.normalize()
    d0 = date.min()
    n_days = int((date.max() - d0).days) + 1
    pos = (days - d0).days.to_numpy()
    cls_line = lines["capital"].to_numpy(dtype=bool).astype(int)
    rep_line = lines["repeat"].to_numpy(dtype=float)
    di = (date - d0).dt.days.to_numpy() + 1
    n = np.zeros((n_days + 1, 2))
    k = np.zeros((n_days + 1, 2))
    np.add.at(n, (di, cls_line), 1.0)
    np.add.at(k, (di, cls_line), rep_line)
    cn, ck = np.cumsum(n, axis=0), np.cumsum(k, axis=0)
    prior = ck[-1] / np.maximum(cn[-1], 1.0)
    lo = np.clip(pos - half_width, 0, n_days)
    hi = np.clip(pos + half_width + 1, 0, n_days)
    p = (ck[hi] - ck[lo] + prior) / (cn[hi] - cn[lo] + 1.0)  # (days, 2)
    cls = np.asarray(capital, dtype=bool).astype(int)
    return rng.random(len(t_idx)) < p[t_idx, cls]


def notes(cfg: OlistConfig, window_lines: pd.DataFrame, orders: pd.DataFrame) -> dict[str, Any]:
    """``[notes.segments]``: the rule, its parameters and the resulting shares."""
    return {
        "rule": rule_text(cfg),
        "source": "derived from the real customer histories (customer_unique_id, purchase day, city, state)",
        "by_region": bool(cfg.segment_by_region),
        "capital_city": cfg.capital_city,
        "capital_state": cfg.capital_state,
        "repeat_within_days": int(cfg.repeat_within_days),
        "not_a_purchase": list(NOT_A_PURCHASE),
        "shares_window": "the real delivered lines of the region in the history and order days",
        "real_lines": int(len(window_lines)),
        "real_shares": shares(window_lines["segment"], cfg),
        "order_shares": shares(orders["segment"], cfg),
        "scaled_orders": ("scale 1: each order keeps its real segment; scale > 1: the region class comes "
                          "from the zone (capital if most of its real lines are), the repeat flag is drawn "
                          "with the class's real repeat share over t +- 30 days"),
        "sample_caveat": ("the sample keeps ~1/19 of delivered orders, so most earlier orders of a real "
                          "repeat customer are missing: the repeat share here is a lower bound"),
    }
