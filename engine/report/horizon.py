"""The horizon report: one self-contained HTML page for a ``nearstock simulate`` output folder.

Four pictures over the days (service-quality index with its 95% interval, forward fill rate and
stock-outs, stock on hand by warehouse, cost per order by part) and two tables (KPIs per
segment, KPIs overall). It reads only the folder's files (``kpis.json``, ``days.csv``,
``segments.csv``, ``stock_days.csv``), so a report can be made later or elsewhere.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from engine.errors import EngineError
from engine.report.figures import CROWD, DC, FLEET, FWD, _svg
from engine.report.html import CSS

REQUIRED = ("kpis.json", "days.csv", "segments.csv", "stock_days.csv")
COST_PARTS = ("cost_transfer", "cost_pull_back", "cost_holding", "cost_dispatch", "cost_central")


def is_horizon_dir(folder: str | Path) -> bool:
    """Whether ``folder`` holds a horizon (``nearstock simulate``) rather than a one-day run."""
    return (Path(folder) / "kpis.json").is_file() and (Path(folder) / "days.csv").is_file()


def _read(folder: Path) -> dict[str, Any]:
    missing = [f for f in REQUIRED if not (folder / f).is_file()]
    if missing:
        raise EngineError(f"{folder}: not a complete horizon output (missing {', '.join(missing)}); "
                          "make one with `nearstock simulate INSTANCE --days N --out DIR`")
    return {"kpis": json.loads((folder / "kpis.json").read_text()),
            **{f.removesuffix(".csv"): pd.read_csv(folder / f) for f in REQUIRED[1:]}}


def _dates(days: pd.DataFrame) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(pd.to_datetime(days["date"]))


def _style(ax: Any, title: str, ylabel: str, n_days: int) -> None:
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.xaxis.set_major_locator(mdates.DayLocator(interval=max(1, n_days // 10)))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d"))
    ax.grid(axis="y", color="#e6e9ee")
    for label in ax.get_xticklabels():
        label.set_rotation(30)
        label.set_ha("right")


def index_over_time(days: pd.DataFrame) -> str:
    """The day's service-quality index with the 95% interval over its replications."""
    x = _dates(days)
    fig, ax = plt.subplots(figsize=(7.5, 3.0))
    lo, hi = days["service_index_ci_low"].to_numpy(float), days["service_index_ci_high"].to_numpy(float)
    if np.isfinite(lo).any():
        ax.fill_between(x, np.clip(lo, 0, 100), np.clip(hi, 0, 100), color=FLEET, alpha=0.15, lw=0,
                        label="95% interval over replications")
    ax.plot(x, days["service_index"], color=FLEET, marker="o", ms=3, label="service-quality index")
    ax.set_ylim(0, 100)
    ax.legend(loc="lower left", frameon=False, fontsize=7)
    _style(ax, "Service-quality index per day", "index / 100", len(days))
    return _svg(fig)


def fill_over_time(days: pd.DataFrame) -> str:
    """Forward fill rate (share of orders from forward stock) and stock-out orders per day."""
    x = _dates(days)
    fig, ax = plt.subplots(figsize=(7.5, 3.0))
    ax.plot(x, 100 * days["forward_fill_rate"], color=FWD, marker="o", ms=3, label="forward fill rate")
    ax.plot(x, 100 * days["on_time_rate"], color=FLEET, marker=".", ms=3, lw=1, label="on time")
    ax.set_ylim(0, 100)
    ax2 = ax.twinx()
    ax2.bar(x, days["stockout_orders"], color=DC, alpha=0.25, width=0.8, label="stock-out orders")
    ax2.set_ylabel("stock-out orders")
    ax2.spines["right"].set_visible(True)
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, loc="lower left", frameon=False, fontsize=7)
    _style(ax, "Forward fill rate, on time and stock-outs", "%", len(days))
    return _svg(fig)


def stock_over_time(stock: pd.DataFrame) -> str:
    """Units on the shelf at the start of each day (after the night's moves), by warehouse."""
    s = stock.assign(opening=stock["start"] - stock["pulled_back"] + stock["arrived"])
    table = s.pivot_table(index="date", columns="warehouse", values="opening", aggfunc="sum", fill_value=0)
    table.index = pd.to_datetime(table.index)
    fig, ax = plt.subplots(figsize=(7.5, 3.0))
    if len(table.columns):
        ax.stackplot(table.index, table.to_numpy().T, labels=list(table.columns), alpha=0.85)
        ax.legend(loc="upper left", frameon=False, fontsize=7, ncol=min(len(table.columns), 5))
    ax.set_ylim(bottom=0)
    _style(ax, "Stock on hand at opening, by forward warehouse", "units", len(table))
    return _svg(fig)


def cost_over_time(days: pd.DataFrame) -> str:
    """Cost per order per day, stacked by part (stock moves, holding, dispatch, central DC)."""
    x = _dates(days)
    n = days["orders"].to_numpy(float)
    parts = np.stack([days[c].to_numpy(float) / np.where(n > 0, n, np.nan) for c in COST_PARTS])
    fig, ax = plt.subplots(figsize=(7.5, 3.0))
    colours = [FWD, "#7fbf8f", "#c9d1dc", FLEET, CROWD]
    ax.stackplot(x, np.nan_to_num(parts), labels=[c.removeprefix("cost_").replace("_", " ") for c in COST_PARTS],
                 colors=colours, alpha=0.9)
    ax.legend(loc="upper left", frameon=False, fontsize=7, ncol=5)
    ax.set_ylim(bottom=0)
    _style(ax, "Cost per order", "per order (instance currency)", len(days))
    return _svg(fig)


def _v(x: Any, pct: bool = False, digits: int = 2) -> str:
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "–"
    return f"{100 * x:.1f}%" if pct else f"{x:,.{digits}f}"


def _ci(d: dict[str, Any] | None, pct: bool = False) -> str:
    if not d or d.get("ci_low") is None:
        return "–"
    return f"{_v(d['ci_low'], pct)} – {_v(d['ci_high'], pct)}"


def render_horizon_html(folder: str | Path) -> str:
    """The report of a horizon output folder as one HTML string."""
    d = _read(Path(folder))
    k = d["kpis"]
    o = k["overall"]
    st = k["settings"]
    days = d["days"]
    cards = [
        (_v(o["service_index"], digits=1), "service-quality index (mean of days × replications)"),
        (_v(o["forward_fill_rate"], True), "filled from forward stock"),
        (_v(o["on_time_rate"], True), "on time"),
        (_v(o["inventory_turnover_days"]), "inventory turnover days"),
        (_v(o["warehouse_utilisation"], True), "warehouse utilisation"),
        (_v(o["cost_per_order"]), "cost per order"),
    ]
    kpi_html = "".join(f'<div class="kpi"><div class="v">{v}</div><div class="l">{html.escape(lbl)}</div></div>'
                       for v, lbl in cards)
    seg_rows = "".join(
        f"<tr><td>{html.escape(name)}</td><td class='n'>{_v(v['orders'], digits=0)}</td>"
        f"<td class='n'>{_v(v['forward_share'], True)}</td><td class='n'>{_v(v['on_time_rate'], True)}</td>"
        f"<td class='n'>{_ci(v.get('on_time_rate_ci'), True)}</td><td class='n'>{_v(v['instant_rate'], True)}</td>"
        f"<td class='n'>{_v(v['late_min_mean'], digits=1)}</td></tr>"
        for name, v in k["segments"].items())
    overall = [
        ("orders", _v(o["orders"], digits=0)), ("units sold from forward stock", _v(o["units_sold"], digits=0)),
        ("stock-out orders (covered zone, no stock)", f"{o['stockout_orders']} ({_v(o['stockout_rate'], True)})"),
        ("vehicle load factor", _v(o["vehicle_load_factor"], True)),
        ("courier utilisation (fleet)", _v(o["courier_utilisation"], True)),
        ("forecast WMAPE, sku × zone × day", _v(o["forecast_wmape"], True)),
        ("forecast WMAPE, sku × day", _v(o.get("forecast_wmape_sku"), True)),
        ("service-quality index, 95% CI", _ci(o["service_index_ci"])),
        ("units moved in / pulled back / returned",
         f"{o['units_moved_in']:,} / {o['units_pulled_back']:,} / {o['units_returned']:,}"),
        *[(f"cost: {c.removeprefix('cost_').replace('_', ' ')}", _v(v)) for c, v in o["cost"].items()],
    ]
    over_rows = "".join(f"<tr><td>{html.escape(a)}</td><td class='n'>{b}</td></tr>" for a, b in overall)
    t = k.get("timings_s", {})
    timing = ", ".join(f"{a} {b:.0f} s" for a, b in t.items())
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in k.get("notes", []))
    title = f"nearstock · {k['instance']} · {k['days']} days from {k['start']}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title><style>{CSS}</style></head>
<body><header><h1>{html.escape(title)}</h1>
<p>seed {k['seed']} · {html.escape(str(st['stocking']))} stocking every night · {html.escape(str(st['policy']))} dispatch ·
{st['replications']} executed replication(s) per day · stock carried over, returns restocked</p></header>
<main>
<div class="kpis">{kpi_html}</div>
<div class="grid2">
<section><h2>Service quality over time</h2>{index_over_time(days)}</section>
<section><h2>Fill rate and stock-outs</h2>{fill_over_time(days)}</section>
<section><h2>Stock on hand</h2>{stock_over_time(d['stock_days'])}</section>
<section><h2>Cost per order</h2>{cost_over_time(days)}</section>
</div>
<section><h2>Per customer segment</h2><table><tr><th>segment</th><th>orders</th><th>from forward stock</th>
<th>on time</th><th>on time, 95% CI over days</th><th>instant</th><th>mean minutes late</th></tr>{seg_rows}</table></section>
<section><h2>Over the horizon</h2><table>{over_rows}</table>
<p class="note">Time: {html.escape(timing)}; peak memory {k.get('peak_memory_mb', float('nan')):.0f} MB.</p>
<ul class="note">{notes}</ul></section>
<p class="note">Made by nearstock from a horizon folder; figures are inline SVG, the page needs no network.</p>
</main></body></html>
"""
