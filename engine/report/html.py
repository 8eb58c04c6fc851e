"""The planner's report: one self-contained HTML file (inline CSS and SVG; no script, no CDN).

It reads only a run directory written by ``nearstock run`` so a report can be made later, on
another machine, or for an archived run.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from engine.errors import EngineError
from engine.io import check_output_file, read_marker, write_output_text
from engine.report import figures

REQUIRED = ("run.json", "scorecard.csv", "outcomes.csv", "routes.csv", "stock_plan.csv", "forecast.csv",
            "orders_allocated.csv", "warehouses.csv", "zones.csv")

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f6f7f9;color:#1d2430}
header{background:#1d2430;color:#fff;padding:18px 28px}
header h1{margin:0;font-size:20px} header p{margin:4px 0 0;color:#c9d1dc;font-size:13px}
main{max-width:1180px;margin:0 auto;padding:18px 24px}
.kpis{display:grid;grid-template-columns:repeat(auto-fit,minmax(160px,1fr));gap:12px;margin-bottom:18px}
.kpi{background:#fff;border-radius:8px;padding:12px 14px;box-shadow:0 1px 2px #0001}
.kpi .v{font-size:24px;font-weight:600} .kpi .l{font-size:12px;color:#5b6675}
section{background:#fff;border-radius:8px;padding:14px 18px;margin-bottom:18px;box-shadow:0 1px 2px #0001}
section h2{font-size:16px;margin:0 0 10px}
.grid2{display:grid;grid-template-columns:1fr 1fr;gap:18px} @media(max-width:900px){.grid2{grid-template-columns:1fr}}
table{border-collapse:collapse;width:100%;font-size:13px} th,td{padding:5px 8px;border-bottom:1px solid #e6e9ee;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.pass{color:#1e7b45;font-weight:600} .fail{color:#b42318;font-weight:600} .na{color:#8792a2}
svg{max-width:100%;height:auto}
.note{font-size:12px;color:#5b6675}
"""


def _read(run_dir: Path) -> dict[str, Any]:
    missing = [f for f in REQUIRED if not (run_dir / f).is_file()]
    if missing:
        raise EngineError(f"{run_dir}: not a complete run directory (missing {', '.join(missing)}); "
                          "make one with `nearstock run INSTANCE --out DIR`")
    data: dict[str, Any] = {"run": json.loads((run_dir / "run.json").read_text())}
    for f in REQUIRED[1:]:
        data[f.removesuffix(".csv")] = pd.read_csv(run_dir / f)
    hist = run_dir / "history_top.csv"
    data["history_top"] = pd.read_csv(hist) if hist.is_file() else pd.DataFrame(columns=["date", "sku", "zone", "quantity"])
    return data


def _pct(v: float) -> str:
    return "–" if v is None or not np.isfinite(v) else f"{100 * v:.1f}%"


def _num(v: float, digits: int = 1) -> str:
    return "–" if v is None or not np.isfinite(v) else f"{v:,.{digits}f}"


def _fmt(v: float, unit: str) -> str:
    return _pct(v) if unit == "share" else _num(v)


def _scorecard_table(rows: pd.DataFrame) -> str:
    out = ["<table><tr><th>factor</th><th>indicator</th><th>value</th><th>95% CI</th><th>target</th><th></th>"
           "<th>measured as</th></tr>"]
    for r in rows.itertuples(index=False):
        if not np.isfinite(r.value):
            mark = '<span class="na">n/a</span>'
        else:
            mark = '<span class="pass">pass</span>' if r.passed else '<span class="fail">fail</span>'
        out.append(
            f"<tr><td>{html.escape(r.factor.replace('_', ' '))}</td><td>{html.escape(r.label)}</td>"
            f'<td class="n">{_fmt(r.value, r.unit)}</td><td class="n">{_fmt(r.ci_low, r.unit)} – {_fmt(r.ci_high, r.unit)}</td>'
            f'<td class="n">{html.escape(r.direction)} {_fmt(r.target, r.unit)}</td><td>{mark}</td>'
            f'<td class="note">{html.escape(r.measured_as)}</td></tr>')
    out.append("</table>")
    return "\n".join(out)


def _baseline(notes: dict[str, Any], rows: pd.DataFrame, outcomes: pd.DataFrame) -> str:
    """A real service baseline (``notes.baseline``, e.g. from Olist data) beside the plan's simulation."""
    from engine.importers.olist_baseline import baseline_comparison

    table = baseline_comparison(notes, rows, outcomes)
    if table.empty:
        return ""
    def cell(v: float, unit: str) -> str:
        return _pct(v) if unit == "share" else _num(v, 0 if unit == "orders" else 1)
    body = "".join(
        f"<tr><td>{html.escape(r.measure)}</td><td class='n'>{cell(r.real, r.unit)}</td>"
        f"<td class='n'>{cell(r.plan, r.unit)}</td><td class='note'>{html.escape(str(r.note or ''))}</td></tr>"
        for r in table.itertuples(index=False))
    base = notes["baseline"]
    source = html.escape(str(base.get("source", "")))
    fig = figures.delivery_days(base.get("delivery_days_histogram", {}), outcomes)
    return (f"<section><h2>Real baseline beside the plan</h2><p class='note'>{source}</p>"
            f"<div class='grid2'><table><tr><th>measure</th><th>real data</th><th>this plan (simulated)</th><th></th></tr>"
            f"{body}</table><div>{fig}</div></div></section>")


def _damage_table(records: list[dict[str, Any]]) -> str:
    if not records:
        return "<p class='note'>no outcomes</p>"
    rows = "".join(
        f"<tr><td>{html.escape(str(r['courier_kind']).replace('_', ' '))}</td><td class='n'>{_num(r['orders'], 1)}</td>"
        f"<td class='n'>{_num(r['damaged'], 1)}</td><td class='n'>{_num(r['lost'], 1)}</td>"
        f"<td class='n'>{_pct(r['damage_loss_rate'] if r['damage_loss_rate'] is not None else float('nan'))}</td></tr>"
        for r in records)
    return ("<table><tr><th>courier type</th><th>orders / replication</th><th>damaged</th><th>lost</th>"
            f"<th>damage + loss rate</th></tr>{rows}</table>")


SEGMENT_INDICATORS = ("instant_delivery_rate", "on_time_rate", "forward_fill_rate", "peak_assignment_p95_min",
                      "eta_error_p90_min")


def _segment_table(records: list[dict[str, Any]]) -> str:
    """Main indicators per customer segment (the scorecard's per-segment rows), one row a segment."""
    if not records:
        return "<p class='note'>no segments in the outcomes</p>"
    seg = pd.DataFrame(records)
    head = "".join(f"<th>{html.escape(str(seg.loc[seg['indicator'] == i, 'label'].iloc[0]))}</th>"
                   for i in SEGMENT_INDICATORS if (seg["indicator"] == i).any())
    body = []
    for name, g in seg.groupby("segment", sort=True):
        by = g.set_index("indicator")
        cells = "".join(
            f"<td class='n'>{_fmt(_val(by.loc[i, 'value']), str(by.loc[i, 'unit']))}</td>"
            for i in SEGMENT_INDICATORS if i in by.index)
        body.append(f"<tr><td>{html.escape(str(name))}</td><td class='n'>{_num(float(g['orders'].iloc[0]), 1)}</td>"
                    f"{cells}</tr>")
    return (f"<table><tr><th>segment</th><th>orders / replication</th>{head}</tr>{''.join(body)}</table>"
            "<p class='note'>Each indicator measured on the segment's orders only (mean over replications); "
            "the full per-segment table is <code>scorecard.segments</code> in run.json.</p>")


def _val(v: Any) -> float:
    return float("nan") if v is None else float(v)


def _execution_note(s: dict[str, Any]) -> str:
    ex = s.get("execution", {})
    if not ex:
        return ""
    states = ", ".join(f"{v} {k}" for k, v in ex.get("final_states", {}).items())
    return (f"Dispatcher in the loop: {ex.get('policy')} every {ex.get('period_min', 0):g} min over "
            f"{ex.get('replications')} executed replications ({ex.get('epochs')} decision epochs, "
            f"{ex.get('errored_epochs', 0)} failed solves, {ex.get('dispatcher_seconds', 0.0):.1f} s in the dispatcher). "
            f"Final states over all replications: {states}. Bars are replication 0's trips; red ticks are late drop-offs.")


def render_html(run_dir: str | Path) -> str:
    """The report of a run directory as one HTML string."""
    d = _read(Path(run_dir))
    s = d["run"]["summary"]
    card = d["run"]["scorecard"]
    rows = d["scorecard"]
    by = rows.set_index("indicator")["value"]
    eff = s.get("efficiency", {})
    kpis = [
        (_num(card["index"]), "service-quality index / 100"),
        (f"{s['orders']:,}", "orders of the day"),
        (_pct(by.get("on_time_rate", np.nan)), "on time (executed)"),
        (_pct(by.get("instant_delivery_rate", np.nan)), "delivered within the instant promise"),
        (_pct(by.get("forward_fill_rate", np.nan)), "filled from forward stock"),
        (_num(eff.get("cost_per_order", np.nan), 2), "cost per order"),
    ]
    kpi_html = "".join(f'<div class="kpi"><div class="v">{v}</div><div class="l">{html.escape(lbl)}</div></div>' for v, lbl in kpis)
    stats_rows = "".join(
        f"<tr><td>{st}</td><td>{html.escape(str(s[st]['backend']))}</td><td>{html.escape(str(s[st]['status']))}</td>"
        f"<td class='n'>{_num(s[st]['objective'], 2) if s[st]['objective'] is not None else '–'}</td>"
        f"<td class='n'>{_pct(s[st]['gap']) if s[st]['gap'] is not None else '–'}</td>"
        f"<td class='n'>{_num(s[st]['wall_seconds'], 2)} s</td></tr>"
        for st in ("forecast", "stocking", "dispatch"))
    parts = {k: v for k, v in s.get("dispatch_cost", {}).items() if k not in ("operating", "total")}
    parts = {"stocking (transfer, handling, holding)": eff.get("stocking_cost", 0.0), **parts}
    eff_rows = "".join(f"<tr><td>{html.escape(k.replace('_', ' '))}</td><td class='n'>{_num(v, 2)}</td></tr>"
                       for k, v in eff.items())
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>nearstock · {html.escape(s['instance'])} · {html.escape(s['day'])}</title><style>{CSS}</style></head>
<body><header><h1>nearstock · {html.escape(s['instance'])} · {html.escape(s['day'])}</h1>
<p>seed {s['seed']} · {card['replications']} executed replications · {s['from_forward_stock']} orders from forward stock,
{s['from_central_dc']} from the central DC · {s['dispatched_fleet']} by fleet, {s['dispatched_crowd']} by crowd couriers</p></header>
<main>
<div class="kpis">{kpi_html}</div>
<section><h2>Scorecard against targets</h2>{_scorecard_table(rows)}
<div>{figures.scorecard_bars(rows)}</div></section>
{_baseline(d['run'].get('instance_notes', {}), rows, d['outcomes'])}
<div class="grid2">
<section><h2>Map: warehouses, zones and routes</h2>{figures.route_map(d['warehouses'], d['zones'], d['routes'], d['orders_allocated'])}</section>
<section><h2>Forward stock</h2>{figures.stock_heatmap(d['stock_plan'])}</section>
</div>
<section><h2>Courier timeline: the day as executed</h2>{figures.courier_timeline(d['routes'], d['outcomes'])}
<p class="note">{html.escape(_execution_note(s))}</p></section>
<section><h2>Forecast</h2>{figures.fan_charts(d['history_top'], d['forecast'])}</section>
<div class="grid2">
<section><h2>On time by hour</h2>{figures.on_time_by_hour(d['outcomes'])}</section>
<section><h2>Click-to-door against its lower bound</h2>{figures.click_to_door(d['outcomes'])}</section>
</div>
<div class="grid2">
<section><h2>Cost</h2>{figures.cost_breakdown(parts)}<table>{eff_rows}</table></section>
</div>
<section><h2>Service by customer segment</h2>{_segment_table(d['run']['scorecard'].get('segments', []))}</section>
<section><h2>Commodity safety by courier type</h2>{_damage_table(d['run']['scorecard'].get('damage_by_courier', []))}</section>
<section><h2>Solvers</h2><table><tr><th>stage</th><th>back-end</th><th>status</th><th>objective</th><th>gap</th><th>time</th></tr>
{stats_rows}</table></section>
<p class="note">Made by nearstock from a run directory; figures are inline SVG, the page needs no network.</p>
</main></body></html>
"""
    return page


def write_report(run_dir: str | Path, out: str | Path, *, force: bool = False) -> Path:
    """Write the report of ``run_dir`` to ``out`` atomically.

    An existing ``out`` is replaced only with ``force``, except an HTML page directly inside the
    run directory when that directory is a nearstock output: the report is made from the run's
    own files, so refreshing it loses nothing.
    """
    target = Path(out)
    own = (target.parent.resolve() == Path(run_dir).resolve() and read_marker(run_dir) is not None
           and target.suffix.lower() in (".html", ".htm"))
    check_output_file(target, force=force or own)  # refuse before the rendering work
    return write_output_text(target, render_html(run_dir), force=force or own)
