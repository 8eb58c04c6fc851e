"""Figures of the planner's report, drawn with matplotlib and returned as inline SVG text."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

FLEET, CROWD, DC, FWD, ZONE = "#1f5fa8", "#e07b00", "#7a1f5c", "#1b7f3b", "#9aa5b1"
plt.rcParams.update({"font.size": 9, "axes.spines.top": False, "axes.spines.right": False, "svg.fonttype": "none",
                     "svg.hashsalt": "nearstock"})


def _svg(fig: plt.Figure) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]


def route_map(warehouses: pd.DataFrame, zones: pd.DataFrame, routes: pd.DataFrame, orders: pd.DataFrame) -> str:
    """Warehouses, zones (sized by orders) and every courier trip, fleet vs crowd."""
    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    counts = orders.groupby("zone").size().reindex(zones["id"], fill_value=0).to_numpy()
    ax.scatter(zones["lon"], zones["lat"], s=20 + 4 * counts, color=ZONE, alpha=0.35, label="zone (size = orders)", zorder=1)
    if len(routes):
        for _, r in routes.sort_values("seq").groupby(["courier", "trip"], sort=False):
            kind = r["courier_kind"].iloc[0]
            ax.plot(r["lon"], r["lat"], color=FLEET if kind == "fleet" else CROWD, lw=0.8, alpha=0.7, zorder=2)
        for kind, color in (("fleet", FLEET), ("crowd", CROWD)):
            d = routes[(routes["courier_kind"] == kind) & (routes["kind"] == "delivery")]
            ax.scatter(d["lon"], d["lat"], s=6, color=color, zorder=3, label=f"{kind} deliveries ({len(d)})")
    fw = warehouses[warehouses["kind"] == "forward"]
    dc = warehouses[warehouses["kind"] == "central"]
    ax.scatter(fw["lon"], fw["lat"], marker="s", s=90, color=FWD, edgecolor="white", zorder=4, label="forward warehouse")
    for r in fw.itertuples(index=False):
        ax.annotate(r.id, (r.lon, r.lat), xytext=(5, 5), textcoords="offset points", fontsize=8, color=FWD)
    # frame the city (zones, forward sites, deliveries); a DC far outside is pointed at, not drawn to scale
    pts = pd.concat([zones[["lat", "lon"]], fw[["lat", "lon"]],
                     routes.loc[routes["kind"] == "delivery", ["lat", "lon"]] if len(routes) else zones[["lat", "lon"]]])
    pad_lat = 0.08 * (pts["lat"].max() - pts["lat"].min()) + 0.005
    pad_lon = 0.08 * (pts["lon"].max() - pts["lon"].min()) + 0.005
    ylim = (pts["lat"].min() - pad_lat, pts["lat"].max() + pad_lat)
    xlim = (pts["lon"].min() - pad_lon, pts["lon"].max() + pad_lon)
    for r in dc.itertuples(index=False):
        inside = ylim[0] <= r.lat <= ylim[1] and xlim[0] <= r.lon <= xlim[1]
        if inside:
            ax.scatter([r.lon], [r.lat], marker="*", s=220, color=DC, edgecolor="white", zorder=4, label="central DC")
        else:
            cx, cy = np.mean(xlim), np.mean(ylim)
            t = min((xlim[1] - cx) / abs(r.lon - cx) if r.lon != cx else np.inf,
                    (ylim[1] - cy) / abs(r.lat - cy) if r.lat != cy else np.inf) * 0.97
            ex, ey = cx + (r.lon - cx) * t, cy + (r.lat - cy) * t
            ax.scatter([ex], [ey], marker="*", s=220, color=DC, edgecolor="white", zorder=4, label="central DC (direction)")
            ax.annotate(f"{r.id} (outside the city)", (ex, ey), xytext=(-10, 8), textcoords="offset points",
                        fontsize=8, color=DC, ha="right")
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    ax.set_aspect(1 / np.cos(np.radians(float(zones["lat"].mean()))))
    ax.legend(loc="best", fontsize=7, framealpha=0.85)
    ax.set_title("Network and courier routes")
    return _svg(fig)


def scorecard_bars(rows: pd.DataFrame) -> str:
    """Score of each indicator against its target (1 = target met)."""
    r = rows.iloc[::-1]
    fig, ax = plt.subplots(figsize=(7.5, 0.32 * len(r) + 0.8))
    colors = np.where(r["passed"], "#2e8b57", "#c0392b")
    ax.barh(r["label"], r["score"].fillna(0), color=colors)
    ax.axvline(1.0, color="#333", lw=0.8, ls="--")
    ax.set_xlim(0, 1.05)
    ax.set_xlabel("score (value vs target; 1 = target met)")
    ax.set_title("Service-quality indicators")
    return _svg(fig)


def fan_charts(history: pd.DataFrame, forecast: pd.DataFrame) -> str:
    """Recent history and the forecast's 10–90% and 25–75% bands for the top series."""
    series = history[["sku", "zone"]].drop_duplicates().to_numpy()
    n = len(series)
    if n == 0:
        return ""
    cols = 3 if n > 2 else n
    rows_n = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows_n, cols, figsize=(3.2 * cols, 2.4 * rows_n), squeeze=False)
    qcols = {c: float(c[1:]) / 100 for c in forecast.columns if c.startswith("q") and c[1:].isdigit()}
    def q(level: float) -> str | None:
        for c, v in qcols.items():
            if abs(v - level) < 1e-9:
                return c
        return None
    for ax, (sku, zone) in zip(axes.ravel(), series, strict=False):
        h = history[(history["sku"] == sku) & (history["zone"] == zone)]
        f = forecast[(forecast["sku"] == sku) & (forecast["zone"] == zone)]
        hd, fd = pd.to_datetime(h["date"]), pd.to_datetime(f["date"])
        ax.plot(hd, h["quantity"], color="#333", lw=0.9, label="history")
        for lo, hi, alpha in ((0.1, 0.9, 0.18), (0.25, 0.75, 0.3)):
            if q(lo) and q(hi):
                ax.fill_between(fd, f[q(lo)], f[q(hi)], color=FLEET, alpha=alpha, lw=0)
        ax.plot(fd, f["mean"], color=FLEET, lw=1.4, label="forecast mean")
        ax.set_title(f"{sku} · {zone}", fontsize=8)
        ax.tick_params(axis="x", labelrotation=45, labelsize=7)
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    fig.suptitle("Forecast fan charts (top series): mean, 25–75% and 10–90% bands", fontsize=9)
    fig.tight_layout()
    return _svg(fig)


def stock_heatmap(plan: pd.DataFrame, top: int = 25) -> str:
    """Units per SKU × forward warehouse for the most stocked SKUs."""
    if plan.empty:
        return ""
    pivot = plan.pivot_table(index="sku", columns="warehouse", values="units", aggfunc="sum", fill_value=0)
    pivot = pivot.loc[pivot.sum(axis=1).sort_values(ascending=False).index[:top]]
    fig, ax = plt.subplots(figsize=(1.2 + 0.9 * pivot.shape[1], 0.25 * len(pivot) + 1.2))
    im = ax.imshow(pivot.to_numpy(), aspect="auto", cmap="Greens")
    ax.set_xticks(range(pivot.shape[1]), pivot.columns)
    ax.set_yticks(range(len(pivot)), pivot.index, fontsize=7)
    for (i, j), v in np.ndenumerate(pivot.to_numpy()):
        if v:
            ax.text(j, i, int(v), ha="center", va="center", fontsize=6)
    fig.colorbar(im, ax=ax, label="units")
    ax.set_title(f"Forward stock, top {len(pivot)} SKUs")
    return _svg(fig)


def on_time_by_hour(outcomes: pd.DataFrame) -> str:
    """Orders per hour (bars) and the on-time share of each hour (line)."""
    o = outcomes.assign(hour=(outcomes["created_min"] // 60).astype(int).clip(0, 23))
    reps = max(int(o["replication"].nunique()), 1)
    per_hour = o.groupby("hour").agg(orders=("order", "size"), on_time=("on_time", "mean"), instant=("instant", "mean"))
    per_hour = per_hour.reindex(range(24))
    fig, ax = plt.subplots(figsize=(7.5, 3.0))
    ax.bar(per_hour.index, per_hour["orders"].fillna(0) / reps, color=ZONE, label="orders")
    ax.set_xlabel("hour of order")
    ax.set_ylabel("orders")
    ax2 = ax.twinx()
    ax2.plot(per_hour.index, per_hour["on_time"], color="#2e8b57", marker="o", ms=3, label="on time")
    ax2.plot(per_hour.index, per_hour["instant"], color=FLEET, marker="o", ms=3, label="instant")
    ax2.set_ylim(0, 1.05)
    ax2.set_ylabel("share")
    ax2.spines["right"].set_visible(True)
    lines = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
    ax.legend(lines, ["orders", "on time", "instant"], loc="lower left", fontsize=7)
    ax.set_title("On-time and instant delivery by hour of day")
    return _svg(fig)


def click_to_door(outcomes: pd.DataFrame) -> str:
    """Click-to-door of the courier-delivered orders by hour of order: mean and p90 as executed,
    and the mean of each order's lower bound (a courier waiting at its warehouse when it is ready)."""
    o = outcomes
    if "bound_min" not in o:
        o = o.assign(bound_min=np.nan)
    o = o[o["served_by_plan"].astype(bool) & o["delivered_min"].notna()]
    fig, ax = plt.subplots(figsize=(7.5, 3.0))
    if o.empty:
        ax.text(0.5, 0.5, "no order was delivered by a courier of the day", ha="center", va="center")
        ax.set_axis_off()
        return _svg(fig)
    o = o.assign(hour=(o["created_min"] // 60).astype(int).clip(0, 23), ctd=o["delivered_min"] - o["created_min"],
                 lb=o["bound_min"] - o["created_min"])
    h = o.groupby("hour").agg(mean=("ctd", "mean"), p90=("ctd", lambda x: float(np.quantile(x, 0.9))),
                              lb=("lb", "mean")).reindex(range(24))
    ax.fill_between(h.index, h["lb"], h["mean"], color=FLEET, alpha=0.15, label="above the bound")
    ax.plot(h.index, h["mean"], color=FLEET, marker="o", ms=3, label="mean")
    ax.plot(h.index, h["p90"], color=FLEET, ls="--", lw=1, label="p90")
    ax.plot(h.index, h["lb"], color="#2e8b57", marker="o", ms=3, label="lower bound (mean)")
    ax.set_xlabel("hour of order")
    ax.set_ylabel("minutes")
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper left", fontsize=7)
    ratio = float(o["ctd"].mean() / o["lb"].mean()) if o["lb"].notna().any() else float("nan")
    ax.set_title(f"Click-to-door: mean {o['ctd'].mean():.1f} min, bound {o['lb'].mean():.1f} min "
                 f"({ratio:.2f}× the bound)")
    return _svg(fig)


def cost_breakdown(parts: dict[str, float]) -> str:
    """The day's cost parts (operating costs and the penalties the plan incurred)."""
    items = [(k.replace("_", " "), v) for k, v in parts.items() if v and np.isfinite(v)]
    if not items:
        return ""
    fig, ax = plt.subplots(figsize=(7.5, 0.35 * len(items) + 0.9))
    labels, values = zip(*items, strict=True)
    ax.barh(labels[::-1], values[::-1], color=[DC if "penalty" in lbl or "lateness" in lbl else FLEET for lbl in labels[::-1]])
    for y, v in enumerate(values[::-1]):
        ax.text(v, y, f" {v:,.0f}", va="center", fontsize=7)
    ax.set_xlabel("cost (instance currency); penalties are planning prices, not cash")
    ax.set_title("Cost breakdown of the day")
    return _svg(fig)


def delivery_days(hist: dict, outcomes: pd.DataFrame) -> str:
    """Order-to-delivery days: the real histogram (baseline) against the simulated plan."""
    edges = list(hist.get("edges_days", []))
    counts = list(hist.get("orders", []))
    if len(edges) < 2 or not sum(counts):
        return ""
    done = outcomes[outcomes["state"] == "delivered"]
    days = ((done["delivered_min"] - done["created_min"]) / 1440.0).dropna().to_numpy(dtype=float)
    e = np.asarray(edges, dtype=float)
    real = np.asarray(counts, dtype=float) / sum(counts)
    if len(real) == len(e):  # the last bin is open-ended
        e = np.append(e, np.inf)
    plan = np.histogram(np.clip(days, e[0], None), bins=e)[0] / max(len(days), 1)
    centres = np.arange(len(real))
    fig, ax = plt.subplots(figsize=(5.5, 3.0))
    ax.bar(centres - 0.2, real, width=0.4, color=ZONE, label="real data")
    ax.bar(centres + 0.2, plan, width=0.4, color=FLEET, label="this plan (simulated)")
    labels = [f"{e[i]:g}–{e[i + 1]:g}" if np.isfinite(e[i + 1]) else f"{e[i]:g}+" for i in range(len(real))]
    ax.set_xticks(centres, labels, rotation=45, fontsize=7)
    ax.set_xlabel("days from order to delivery")
    ax.set_ylabel("share of orders")
    ax.legend(fontsize=7)
    ax.set_title("Delivery time: real baseline and plan")
    return _svg(fig)


def courier_timeline(stops: pd.DataFrame, outcomes: pd.DataFrame | None = None, *, top: int = 40) -> str:
    """One row per courier (the busiest ``top``), each executed trip a bar from set-off to its
    last stop; return runs hatched; late deliveries marked with a red tick at their drop-off."""
    if stops is None or not len(stops):
        return ""
    s = stops.copy()
    trips = (s.groupby(["courier", "trip"], sort=False)
             .agg(kind=("courier_kind", "first"), start=("arrive_min", "min"), end=("depart_min", "max"),
                  ret=("kind", lambda k: bool((k == "return_pickup").any())))
             .reset_index())
    busy = (trips["end"] - trips["start"]).groupby(trips["courier"]).sum().sort_values(ascending=False)
    keep = list(busy.index[:top])
    trips = trips[trips["courier"].isin(keep)]
    order = sorted(keep, key=lambda c: (trips.loc[trips["courier"] == c, "kind"].iloc[0] != "fleet",
                                        trips.loc[trips["courier"] == c, "start"].min()))
    row = {c: i for i, c in enumerate(order)}
    fig, ax = plt.subplots(figsize=(8.5, 0.6 + 0.22 * len(order)))
    for t in trips.itertuples(index=False):
        color = FLEET if t.kind == "fleet" else CROWD
        ax.barh(row[t.courier], t.end - t.start, left=t.start, height=0.6, color=color, alpha=0.85,
                hatch="///" if t.ret else None, edgecolor="white", linewidth=0.4)
    late_n = 0
    if outcomes is not None and len(outcomes) and "late_min" in outcomes:
        first = outcomes[outcomes["replication"] == outcomes["replication"].min()] if "replication" in outcomes else outcomes
        late = set(first.loc[first["late_min"].fillna(0) > 0, "order"].astype(str))
        d = s[s["kind"].isin(["dropoff", "delivery"]) & s["order"].astype(str).isin(late) & s["courier"].isin(keep)]
        late_n = len(d)
        ax.scatter(d["arrive_min"], [row[c] for c in d["courier"]], marker="|", s=60, color="#c0392b", zorder=3)
    ax.set_yticks(range(len(order)), order, fontsize=7)
    ax.invert_yaxis()
    lo, hi = float(trips["start"].min()), float(trips["end"].max())
    ticks = np.arange(np.floor(lo / 60) * 60, hi + 60, 60)
    ax.set_xticks(ticks, [f"{int(m // 60):02d}:00" for m in ticks])
    ax.set_xlim(lo - 10, hi + 10)
    ax.set_xlabel("time of day (executed)")
    from matplotlib.patches import Patch
    handles = [Patch(color=FLEET, label="fleet trip"), Patch(color=CROWD, label="crowd trip"),
               Patch(facecolor="white", edgecolor="grey", hatch="///", label="return pickup"),
               plt.Line2D([], [], color="#c0392b", marker="|", ls="", label=f"late delivery ({late_n})")]
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.6 / max(len(order), 1) - 0.08),
              ncol=4, frameon=False, fontsize=8)
    who = f"the {len(order)} busiest couriers" if len(busy) > top else f"all {len(order)} couriers who worked"
    ax.set_title(f"Courier timeline (executed, replication 0) — {who}", loc="left")
    return _svg(fig)
