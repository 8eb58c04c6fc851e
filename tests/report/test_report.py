"""The HTML report: self-contained, loads in a real headless Chromium without console errors."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from engine import RunSettings, Settings, load_instance, run
from engine.errors import EngineError
from engine.report import render_html, write_report
from tests.helpers import tiny_copy

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("rep")
    inst = load_instance(tiny_copy(base))
    res = run(inst, RunSettings(seed=2, forecast=Settings(backend="seasonal_naive"),
                                stocking=Settings(backend="highs", time_limit=5),
                                dispatch=Settings(backend="ortools", time_limit=0.5), replications=2, scenarios=10))
    return res.write(base / "run")


def test_report_is_self_contained(run_dir: Path) -> None:
    page = render_html(run_dir)
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"""(src|href)\s*=\s*["']https?://""", page)  # nothing fetched from the network
    assert "<script" not in page
    assert page.count("<svg") >= 5
    for heading in ("Scorecard against targets", "Map: warehouses, zones and routes", "Forward stock", "Forecast",
                    "On time by hour", "Cost", "Service by customer segment"):
        assert heading in page
    # one row per customer segment of the instance (the scorecard's per-segment table)
    assert re.search(r"<tr><td>member</td><td class='n'>[\d.]+</td>", page)
    assert re.search(r"<tr><td>standard</td><td class='n'>[\d.]+</td>", page)


def test_not_a_run_directory(tmp_path: Path) -> None:
    with pytest.raises(EngineError, match="not a complete run directory"):
        render_html(tmp_path)


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_report_in_headless_chromium(run_dir: Path, tmp_path: Path) -> None:
    playwright = pytest.importorskip("playwright.sync_api")
    html = write_report(run_dir, tmp_path / "report.html")
    import json

    index = json.loads((run_dir / "run.json").read_text())["scorecard"]["index"]
    problems: list[str] = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        page = browser.new_page(viewport={"width": 1280, "height": 2000})
        page.on("console", lambda m: problems.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
        page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
        page.goto(html.resolve().as_uri())
        assert page.title().startswith("nearstock")
        assert page.locator(".kpi .v").first.inner_text() == f"{index:,.1f}"
        assert page.locator("section svg").count() >= 5
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        browser.close()
    assert problems == []
    assert (tmp_path / "report.png").stat().st_size > 50_000


def test_compare_runs(run_dir: Path, tmp_path: Path) -> None:
    import json

    import pandas as pd

    from engine.report import compare_runs

    other = tmp_path / "b"
    shutil.copytree(run_dir, other)
    card = pd.read_csv(other / "scorecard.csv")
    i = card.index[card["indicator"] == "on_time_rate"][0]
    card.loc[i, ["value", "ci_low", "ci_high"]] = [0.5, 0.45, 0.55]
    card.to_csv(other / "scorecard.csv", index=False)
    cmp = compare_runs(run_dir, other)
    row = cmp.indicators.set_index("indicator").loc["on_time_rate"]
    before = pd.read_csv(run_dir / "scorecard.csv").set_index("indicator").loc["on_time_rate", "value"]
    assert row["delta"] == pytest.approx(0.5 - before)
    assert row["better"] == ("A" if before > 0.5 else "B")
    same = cmp.indicators.set_index("indicator").loc["damage_loss_rate"]
    assert same["delta"] == 0 and same["better"] == "same"
    assert json.dumps(cmp.to_dict())
    with pytest.raises(EngineError):
        compare_runs(run_dir, tmp_path / "missing")


def test_real_baseline_section(run_dir: Path, tmp_path: Path) -> None:
    import json

    other = tmp_path / "b"
    shutil.copytree(run_dir, other)
    meta = json.loads((other / "run.json").read_text())
    meta["instance_notes"] = {"baseline": {
        "orders": 100, "late_share": 0.08, "on_time_share": 0.92, "median_delivery_days": 10.3,
        "delivery_days_quantiles": {"p10": 3, "p25": 6, "p50": 10.3, "p75": 15, "p90": 21},
        "delivery_days_histogram": {"edges_days": [0, 2, 5, 10], "orders": [10, 30, 40, 20]},
        "source": "hand-made baseline"}}
    (other / "run.json").write_text(json.dumps(meta))
    page = render_html(other)
    assert "Real baseline beside the plan" in page and "hand-made baseline" in page and "8.0%" in page
    assert "Real baseline" not in render_html(run_dir)


def test_click_to_door_is_drawn_against_its_bound(run_dir: Path) -> None:
    import pandas as pd

    o = pd.read_csv(run_dir / "outcomes.csv")
    served = o[o["served_by_plan"].astype(bool) & o["delivered_min"].notna()]
    assert len(served)
    # at planned travel times: noisy legs may beat it now and then, the mean may not
    assert (served["delivered_min"] - served["bound_min"]).mean() > 0
    assert o.loc[o["source"] == "central", "bound_min"].isna().all()
    page = render_html(run_dir)
    assert "Click-to-door against its lower bound" in page
    mean = (served["delivered_min"] - served["created_min"]).mean()
    bound = (served["bound_min"] - served["created_min"]).mean()
    assert f"mean {mean:.1f} min, bound {bound:.1f} min" in page


def test_the_bound_holds_for_every_order_when_travel_is_as_planned(tmp_path: Path) -> None:
    import pandas as pd

    from engine.pipeline import orders_of_day
    from engine.simulate import ExecutionParams, allocate_orders
    from engine.simulate.replicate import execute_day

    inst = load_instance(tiny_copy(tmp_path))
    day = inst.manifest.planning.start_date
    stock = pd.DataFrame([(s, w, 10**6) for s in inst.skus["id"] for w in inst.forward_warehouses["id"]],
                         columns=["sku", "warehouse", "units"])
    allocated, _ = allocate_orders(inst, orders_of_day(inst, day), stock)
    ex = execute_day(inst, allocated, policy="greedy", replications=1, seed=0,
                     params=ExecutionParams.deterministic(pickup_service_min=2.0))
    o = ex.outcomes[ex.outcomes["served_by_plan"].astype(bool) & ex.outcomes["delivered_min"].notna()]
    assert len(o)
    assert (o["delivered_min"] >= o["bound_min"] - 1e-6).all()
