"""Pictures of an experiment: gap against time, and the performance profile, as one HTML page."""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd

from engine.io import atomic_write_text
from engine.report.figures import _svg, plt
from engine.report.html import CSS


def gap_vs_time(runs: pd.DataFrame) -> str:
    ok = runs[runs["state"] == "ok"]
    from engine.bench.analysis import gap_label

    fig, ax = plt.subplots(figsize=(7, 4))
    for cfg, g in ok.groupby("config"):
        ax.scatter(g["wall_seconds"], 100 * g["gap"].fillna(float("nan")), s=14, label=cfg, alpha=0.75)
    ax.set_xlabel("wall seconds")
    ax.set_ylabel(f"{gap_label(ok)} (%)")
    ax.set_title("Gap against time, one point per run")
    ax.legend(fontsize=7)
    return _svg(fig)


def profile_plot(profile: pd.DataFrame) -> str:
    fig, ax = plt.subplots(figsize=(7, 4))
    for cfg, g in profile.groupby("config"):
        ax.step(g["tau"], g["share"], where="post", label=cfg)
    ax.set_xlabel("tau: objective within this factor of the best configuration")
    ax.set_ylabel("share of problems")
    ax.set_ylim(0, 1.02)
    ax.set_title("Performance profile (Dolan–Moré)")
    ax.legend(fontsize=7)
    return _svg(fig)


def write_summary_html(path: str | Path, name: str, summary: pd.DataFrame, runs: pd.DataFrame,
                       profile: pd.DataFrame) -> Path:
    table = summary.to_html(index=False, float_format=lambda v: f"{v:,.4g}", border=0)
    page = f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>nearstock bench · {html.escape(name)}</title>
<style>{CSS}</style></head><body><header><h1>nearstock bench · {html.escape(name)}</h1>
<p>{len(runs)} runs · {int((runs['state'] == 'ok').sum())} ok</p></header><main>
<section><h2>Per configuration</h2>{table}</section>
<div class="grid2"><section><h2>Gap against time</h2>{gap_vs_time(runs)}</section>
<section><h2>Performance profile</h2>{profile_plot(profile)}</section></div></main></body></html>"""
    return atomic_write_text(path, page)
