"""Benchmark numbers are traceable: every RESULTS table names a committed source (or says it has
none), and README's headline numbers are recomputed here from the committed result files."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest

from tests.helpers import REPO

BENCH = REPO / "benchmarks"
RESULT_DOCS = sorted([*BENCH.glob("*/RESULTS.md"), BENCH / "dispatch" / "recombine_courier.md",
                      BENCH / "dispatch" / "MDRP.md",
                      *BENCH.glob("stocking/VSS_*.md")])
SOURCE = re.compile(r"^Source:", re.IGNORECASE)
NOT_TRACEABLE = re.compile(r"not traceable", re.IGNORECASE)
FILE_TOKEN = re.compile(r"`([^`\s]+\.(?:csv|parquet|jsonl|json))`")
COMMAND_TOKEN = re.compile(r"`((?:python|nearstock) [^`]+)`")


def _tables(text: str) -> list[tuple[int, str]]:
    """(first line number, the prose since the previous table or heading) for every markdown table."""
    lines = text.splitlines()
    out, prose, in_table = [], [], False
    for i, line in enumerate(lines):
        if line.startswith("|"):
            if not in_table:
                out.append((i + 1, "\n".join(prose)))
            in_table = True
            continue
        if in_table or line.startswith("#"):
            prose = []
        in_table = False
        prose.append(line)
    return out


def _git_ignored(path: Path) -> bool | None:
    if shutil.which("git") is None or not (REPO / ".git").exists():
        return None
    res = subprocess.run(["git", "check-ignore", "-q", str(path)], cwd=REPO, capture_output=True, check=False)
    return res.returncode == 0


def _load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem + "_under_test", path)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("doc", RESULT_DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_table_names_a_committed_source_or_says_it_has_none(doc: Path) -> None:
    text = doc.read_text(encoding="utf-8")
    tables = _tables(text)
    for line_no, prose in tables:
        sourced = any(SOURCE.match(ln) for ln in prose.splitlines())
        assert sourced or NOT_TRACEABLE.search(prose), (
            f"{doc}:{line_no}: table without a 'Source:' line or a 'not traceable' note before it")


@pytest.mark.parametrize("doc", RESULT_DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_declared_sources_exist_are_committed_and_have_a_command(doc: Path) -> None:
    text = doc.read_text(encoding="utf-8")
    lines = [ln for ln in text.splitlines() if SOURCE.match(ln)]
    for ln in lines:
        files = FILE_TOKEN.findall(ln)
        assert files, f"{doc}: source line names no result file: {ln}"
        for f in files:
            path = REPO / f
            assert path.is_file(), f"{doc}: source {f} does not exist"
            assert "results" in Path(f).parts and f.startswith("benchmarks/"), f"{doc}: {f} is not under results/"
            assert _git_ignored(path) is not True, f"{doc}: source {f} is gitignored"
        commands = COMMAND_TOKEN.findall(ln)
        assert commands, f"{doc}: source line names no command: {ln}"
        for cmd in commands:
            script = cmd.split()[1]
            if cmd.startswith("python "):
                assert (REPO / script).is_file(), f"{doc}: command {cmd!r} runs a script that does not exist"


def test_no_result_doc_reads_from_a_sqlite_store() -> None:
    for doc in RESULT_DOCS:
        for ln in doc.read_text(encoding="utf-8").splitlines():
            if SOURCE.match(ln):
                assert ".sqlite" not in ln, f"{doc}: {ln}"


def _readme_row(suite: str, doc: str = "RESULTS.md") -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    rows = [ln for ln in text.splitlines() if ln.startswith(f"| `benchmarks/{suite}/{doc}` |")]
    assert len(rows) == 1, f"README has no single benchmarks row for {suite}"
    row = rows[0]
    for f in re.findall(r"`(results/[^`]+)`", row):  # every file the cell cites exists
        assert list((BENCH / suite).glob(f)), f"README cites benchmarks/{suite}/{f}, which does not exist"
    return row


def test_readme_forecast_headline_from_committed_files() -> None:
    row = _readme_row("forecast")
    res = BENCH / "forecast" / "results"
    hold = pd.read_csv(res / "kaggle_holdout.csv").set_index("method")
    assert f"`auto` WMAPE {hold.loc['auto', 'wmape']:.3f}" in row
    assert f"seasonal naive {hold.loc['seasonal_naive', 'wmape']:.3f}" in row
    assert f"same-day-last-year {hold.loc['seasonal_naive_yearly', 'wmape']:.3f}" in row
    assert f"cover {100 * hold.loc['auto', 'coverage_80']:.1f}%" in row
    assert f"fit + predict {hold.loc['auto', 'fit_predict_s']:.1f} s" in row
    syn = pd.read_csv(res / "synthetic.csv")
    big = syn[(syn["series"] == 20000) & (syn["scenarios"] == 0)].iloc[0]
    assert f"in {big['fit_predict_s']:.0f} s, {big['peak_rss_mb']:.0f} MB" in row


def test_readme_stocking_headline_from_committed_files() -> None:
    row = _readme_row("stocking")
    res = BENCH / "stocking" / "results"
    cmp = pd.read_csv(res / "decomp_compare.csv")
    after = cmp[cmp["label"] == "after"].set_index("case")
    for case, size, digits in (("1000", "(1000,10,30,30)", 1), ("5000", "(5000,10,30,30)", 0),
                               ("20000", "(20 000,10,30,50)", 0)):
        r = after.loc[case]
        assert r["gap"] == pytest.approx((r["bound"] - r["objective"]) / r["objective"], rel=0.02)
        assert f"{size} {100 * r['gap']:.2f}%" in row
        assert f"in {r['wall_s']:.{digits}f} s" in row
    busy = cmp[(cmp["case"] == "20000") & (cmp["label"] == "after, +1 busy process")].iloc[0]
    assert f"{100 * busy['gap']:.2f}% under extra load" in row

    def loss(path: Path) -> float:
        v = pd.read_csv(path).set_index("plan")
        saa, mean = v.loc["SAA (stochastic)", "profit"], v.loc["mean forecast", "profit"]
        return 100 * (saa - mean) / saa

    assert f"earns {loss(res / 'vss_metro-small.csv'):.0f}% (metro-small) to {loss(res / 'vss.csv'):.0f}% less" in row


def test_readme_dispatch_headline_from_committed_files() -> None:
    row = _readme_row("dispatch")
    res = BENCH / "dispatch" / "results"
    peak = pd.read_csv(res / "rolling_peak.csv").set_index("policy")
    rolling = peak[peak.index.str.startswith("rolling")].iloc[0]
    assert f"{100 * rolling['on_time_share']:.1f}% on time vs {100 * peak.loc['greedy nearest courier', 'on_time_share']:.0f}%" in row
    assert f"re-plan ≤ {rolling['replan_s_max_pending_le_300']:.1f} s at ≤ 300 pending" in row
    gaps = {}
    for backend in ("pyvrp", "ortools"):
        f = pd.read_csv(res / f"solomon_{backend}_10s.csv")
        assert len(f) == 56 and f["feasible"].all()
        assert f["gap"].to_numpy() == pytest.approx(((f["distance"] - f["bks_distance"]) / f["bks_distance"]).to_numpy(),
                                                     abs=1e-6)
        gaps[backend] = 100 * f["gap"].mean()
    assert f"PyVRP {gaps['pyvrp']:.2f}%, OR-Tools {gaps['ortools']:.2f}% mean gap to BKS, all feasible" in row
    # numbers without committed rows are not quoted in the README at all
    assert "0.053%" not in row and "1.53%" not in row
    cur = pd.read_csv(res / "solomon_pyvrp_10s_2threads.csv")
    assert len(cur) == 56 and cur["feasible"].all()
    assert (f"PyVRP (with route recombination) {100 * cur['gap'].mean():.3f}% mean gap to BKS, "
            f"max {100 * cur['gap'].max():.2f}%, all 56 feasible") in row


def test_readme_experiments_row_quotes_no_number() -> None:
    row = _readme_row("experiments")
    have = list((BENCH / "experiments" / "results").glob("*.csv"))
    if not have:
        assert not re.search(r"\d+(\.\d+)?%", row)


def test_experiment_tables_come_from_an_export(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from engine.bench import load_experiment, run_experiment
    from engine.cli import app

    results = _load(BENCH / "experiments" / "results.py")
    exp_file = tmp_path / "tiny.toml"
    exp_file.write_text("""
name = "tiny"
kind = "stocking_random"
baseline = "highs"
[instances]
paths = ["random:S=8,W=3,Z=4,K=3,seed=1"]
[[configs]]
name = "highs"
backend = "highs"
time_limit = 10
[[configs]]
name = "newsvendor"
backend = "newsvendor"
""")
    out = tmp_path / "results"
    assert "No committed rows" in results.table(exp_file, out)  # nothing exported: no numbers
    run_experiment(load_experiment(exp_file), jobs=2)
    assert "No committed rows" in results.table(exp_file, out)  # a SQLite store alone is not a source
    res = CliRunner().invoke(app, ["bench", "export", str(exp_file), str(out / "tiny.csv")])
    assert res.exit_code == 0, res.output
    exported = pd.read_csv(out / "tiny.csv")
    assert {"code_version", "git_commit", "requested_backend", "fallback_reason", "reference"} <= set(exported.columns)
    text = results.table(exp_file, out)
    assert f"Source: `{out / 'tiny.csv'}`" in text and "proven gap" in text
    assert "| `highs` | 1 | 1 | 0 |" in text and "| `newsvendor` | 1 | 1 | 0 |" in text


def test_show_prints_selected_rows_of_a_result_file(capsys: pytest.CaptureFixture[str]) -> None:
    show = _load(BENCH / "show.py")
    path = BENCH / "dispatch" / "results" / "rolling_peak.csv"
    assert show.main([str(path), "--cols", "policy,on_time_share", "--where", "policy=greedy nearest courier"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["| policy | on_time_share |", "|---|---|", "| greedy nearest courier | 0.22 |"]
    with pytest.raises(SystemExit, match="no column"):
        show.main([str(path), "--cols", "nope"])


def test_readme_simulate_headline_from_committed_files() -> None:
    import importlib.util

    from engine.report.compare import delta_interval

    row = _readme_row("simulate")
    res = BENCH / "simulate" / "results"
    pol = pd.read_csv(res / "policies.csv")

    def paired(instance: str, indicator: str) -> tuple[float, float, float]:
        v = {p: pol[(pol["instance"] == instance) & (pol["policy"] == p) & (pol["indicator"] == indicator)]
             .sort_values("replication")["value"].to_numpy(float) for p in ("greedy", "rolling")}
        return delta_interval(v["greedy"], v["rolling"], paired=True)

    m, lo, hi = paired("metro-small", "on_time_rate")
    assert f"metro-small rolling {100 * m:+.1f} pp on time [{100 * lo:+.1f}, {100 * hi:+.1f}]" in row
    m, _, _ = paired("olist-sp-city", "peak_assignment_p95_min")
    assert f"{m:+.0f} min p95 to assignment in peaks" in row
    spec = importlib.util.spec_from_file_location("speed", BENCH / "simulate" / "speed.py")
    speed = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(speed)
    rows = pd.read_csv(res / "speed.csv", dtype={"label": str})
    med = speed.summary(rows[rows["label"] == rows["label"].iloc[-1]])  # the README quotes the newest code
    ex = med[med["what"] == "execute"].set_index("workers")
    assert f"takes {ex.loc[1, 'x_plan']:.1f}× one plan in wall time in one process, {ex.loc[2, 'x_plan']:.1f}× with 2 workers" in row
    assert f"and {ex.loc[3, 'x_plan']:.2f}× with 3 (`--workers 3`" in row
    assert ("met in the median" in row) == (ex.loc[3, "x_plan"] <= 3.0)
    runs = speed.run_ratios(rows, [rows["label"].iloc[-1]])
    three = runs[runs["workers"] == 3]["x_plan"]
    assert f"single runs {three.min():.2f}–{three.max():.2f}×" in row
    per_rep = sorted(ex.loc[w, "x_plan_cpu"] / ex.loc[w, "replications"] for w in (1, 3))
    assert f"one replication costs {per_rep[0]:.2f}–{per_rep[1]:.2f}× the plan's CPU" in row
    floor = sorted(ex.loc[w, "x_plan_cpu"] / 2 for w in (1, 3))
    assert f"two perfectly used cores need {floor[0]:.2f}–{floor[1]:.2f}×" in row


def test_readme_mdrp_headline_from_committed_files() -> None:
    import sys

    row = _readme_row("dispatch", "MDRP.md")
    res = BENCH / "dispatch" / "results"
    m = pd.read_csv(res / "mdrp_matching_scarce.csv")
    g = pd.read_csv(res / "mdrp_greedy_after151.csv")
    rm, rg = m["click_to_door_mean"] / m["lower_bound_mean"], g["click_to_door_mean"] / g["lower_bound_mean"]
    assert f"in {rm.min():.2f}–{rm.max():.2f}× the per-order lower bound" in row
    assert f"(greedy {rg.min():.2f}–{rg.max():.2f}×)" in row
    w = 100 * m["within_target_when_possible"]
    assert f"{w.min():.1f}–{w.max():.1f}% of the orders that could make 40 min" in row
    assert f"{m['delivered'].sum():,} of {m['orders'].sum():,} orders delivered".replace(",", " ") in row
    sys.path.insert(0, str(REPO))
    from tests.bench.test_mdrp import IMPOSSIBLE

    impossible = sum(len(v) for v in IMPOSSIBLE.values())
    assert m["orders"].sum() - m["delivered"].sum() == impossible
    assert f"(the other {impossible} cannot be delivered by anyone)" in row
    assert f"re-plan p95 ≤ {m['replan_s_p95'].max():.2f} s" in row
    a = pd.read_csv(res / "mdrp_all_matching_scarce.csv").set_index("instance")
    ga = pd.read_csv(res / "mdrp_all_greedy_after151.csv").set_index("instance")
    assert len(a) == 120 and len(pd.read_csv(res / "mdrp_all_rolling.csv")) == 120
    r = a["click_to_door_mean"] / a["lower_bound_mean"]
    assert f"delivers every order on {int((a['delivered'] == a['orders']).sum())}" in row
    assert f"within {r.min():.2f}–{r.max():.2f}× the bound" in row
    assert (a["click_to_door_mean"] <= ga.loc[a.index, "click_to_door_mean"]).all()
    assert "never worse than greedy on click-to-door" in row


def test_readme_horizon_headline_from_committed_files() -> None:
    row = _readme_row("horizon")
    res = BENCH / "horizon" / "results"
    sp = pd.read_csv(res / "speed_metro-medium.csv")
    checked = sp[sp["log_check"].astype(bool) & (sp["days"] == 28)].iloc[-1]
    assert f"in {checked['wall_s']:.0f} s on 2 cores with the greedy dispatcher, {checked['peak_rss_mb'] / 1000:.2f} GB" in row
    pol = pd.read_csv(res / "policies_metro-medium.csv")
    fill = pol.pivot_table(index="date", columns="stocking", values="forward_fill_rate")
    doc = 100 * (fill["stochastic"] - fill["days_of_cover"]).mean()
    mean = 100 * (fill["stochastic"] - fill["mean"]).mean()
    assert f"fills {doc:.1f} pp more orders from forward stock than days of cover and {mean:.1f} pp more" in row
