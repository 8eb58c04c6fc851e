"""`nearstock stock --cluster`: the chunked work gives the plan of the local run, on any workers."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from engine.errors import ConfigError
from engine.forecast import fit
from engine.forecast.hier import HierarchicalFit
from engine.instance import load_instance
from engine.instance.generate import generate_instance
from engine.solver import Settings
from engine.stocking.cluster import ChunkMap, forecast_with

distributed = pytest.importorskip("dask.distributed")  # the optional extra (nearstock[dask])

# the exact phase runs (no ascent before it), and the gap it leaves is within mip_gap, so no
# time-dependent step follows: the plan is a function of the data and the seed alone
STOCKING = Settings(backend="decomp", mip_gap=2e-3, time_limit=120, options={"ascent_share": 0.0})
FORECAST = Settings(backend="hierarchical", seed=11, options={"hier_base": "moving_average"})


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cluster") / "city"
    generate_instance(out, preset="small", seed=3, skus=80, zones=8, warehouses=3)
    # quick settings for the commands below: SKU totals by moving average, a loose stocking gap
    toml = out / "instance.toml"
    text = toml.read_text(encoding="utf-8").replace(
        "[solver.forecast.options]\n", '[solver.forecast.options]\nhier_base = "moving_average"\n')
    toml.write_text(text.replace("mip_gap = 0.0001", "mip_gap = 0.002"), encoding="utf-8")
    return out


@pytest.fixture()
def small_chunks(monkeypatch):
    """Several chunks even on a small city: 16 SKUs per forecast chunk, 8 per exact chunk, and
    the oracle (locally too) in blocks of 4 SKUs, mapped 2 blocks a chunk from 1 SKU up."""
    import engine.forecast.hier as hier
    import engine.stocking.decomp as decomp
    from engine.stocking.flow import CutOracle

    monkeypatch.setattr(hier, "PREDICT_CHUNK_SKUS", 16)
    monkeypatch.setattr(decomp, "MAP_CHUNK", 8)
    monkeypatch.setattr(decomp, "MAP_ORACLE_MIN", 1)
    monkeypatch.setattr(decomp, "MAP_ORACLE_SPANS", 2)
    monkeypatch.setattr(CutOracle.__init__, "__kwdefaults__", {"chunk_rows": 4 * 10})  # 10 scenarios


@pytest.fixture(scope="module")
def scheduler():
    """Two in-process workers behind a real TCP scheduler (what tcp://HOST:PORT connects to)."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, protocol="tcp",
                      host="127.0.0.1", dashboard_address=None) as lc:
        yield lc.scheduler_address


class _Backwards(ChunkMap):
    """Computes the chunks last to first (as a cluster may finish them), returns them in order."""

    def __call__(self, f, chunks, shared, *, stage=""):  # noqa: ANN001
        done = {i: f(c, shared) for i, c in reversed(list(enumerate(chunks)))}
        return [done[i] for i in range(len(chunks))]


def _plan(city: Path, **kw):
    from engine.stocking.plan import plan_stock

    return plan_stock(city, stocking=STOCKING, forecast_settings=FORECAST, scenarios=10, time_limit=300,
                      process_start_age=0.0, **kw)


def test_chunked_forecast_is_the_same_whoever_computes_the_chunks(city, small_chunks):
    inst = load_instance(city)
    m = inst.manifest
    kw = dict(horizon=m.planning.horizon_days, start=m.planning.start_date, events=inst.events)
    fitted = fit(inst.demand, settings=FORECAST, **kw)
    assert isinstance(fitted, HierarchicalFit)
    base = fitted.predict(n_scenarios=12, seed=5)
    mapped = ChunkMap()
    for cm in (mapped, _Backwards()):
        other = fitted.predict(n_scenarios=12, seed=5, chunk_map=cm)
        assert other.scenarios.equals(base.scenarios)
        np.testing.assert_array_equal(other.quantiles, base.quantiles)
        np.testing.assert_array_equal(other.mean, base.mean)
    n_sku = fitted.sku_mean.shape[0]
    assert len(mapped.times) == -(-n_sku // 16) > 1  # the chunks really were several
    # each SKU's zone counts add up to its SKU draw, across chunk borders too
    dense = base.scenarios.to_dense()
    by_sku = np.zeros((12, n_sku, dense.shape[2]), dtype=np.int64)
    np.add.at(by_sku, (slice(None), fitted.sku_index), dense)
    assert by_sku.sum() == dense.sum() > 0
    # the chunks share one market factor and seeds derived from the run's: another seed, others
    assert not fitted.predict(n_scenarios=12, seed=6).scenarios.equals(base.scenarios)
    # forecast_with without a map is the ordinary forecast
    plain = forecast_with(None, inst.demand, n_scenarios=12, settings=FORECAST.with_(seed=5), **kw)
    assert plain.scenarios.equals(base.scenarios)


def test_same_plan_on_a_dask_cluster_as_locally(city, scheduler, small_chunks):
    local = _plan(city)
    remote = _plan(city, cluster=scheduler)
    np.testing.assert_array_equal(remote.result.units, local.result.units)
    assert remote.result.stats.objective == local.result.stats.objective
    assert remote.result.stats.bound == local.result.stats.bound
    timing = ("build_seconds", "solve_seconds", "wall_seconds")
    assert ({k: v for k, v in remote.forecast["stats"].items() if k not in timing}
            == {k: v for k, v in local.forecast["stats"].items() if k not in timing})
    assert {k: v for k, v in remote.forecast.items() if k != "stats"} == {
        k: v for k, v in local.forecast.items() if k != "stats"}
    assert local.cluster is None
    c = remote.cluster
    assert c is not None and c["workers"] == 2 and c["address"] == scheduler
    # both kinds of work went out in several chunks, and the exact phase really ran
    assert c["stages"]["forecast"]["chunks"] > 1
    assert c["stages"]["exact per-SKU"]["chunks"] > 1
    assert "SKUs solved exactly" in remote.result.stats.message
    assert c["stages"]["exact per-SKU"]["scattered_mb"] > 0
    # the oracle passes went out too; the demand they read was sent once, not once a pass
    oracle = c["stages"]["decomp oracle"]
    assert oracle["calls"] > 1 and oracle["chunks"] > oracle["calls"]
    assert 0 < oracle["scattered_mb"] < 1.5 * 80 * 10 * 4 * 10 / 2**20  # <= one (S, groups, K) float32 copy
    # every chunk's time is recorded with the worker that ran it; both workers got some
    assert len(c["chunks"]) == sum(d["chunks"] for d in c["stages"].values())
    with distributed.Client(scheduler) as client:
        assert {w for *_, w in c["chunks"]} <= set(client.scheduler_info()["workers"])
    assert [s.name for s in remote.stages][:2] == ["cluster", "load"]  # (no start-up: in-process)
    by = {s.name: s for s in remote.stages}
    assert "chunks" in by["forecast"].note and "chunks" in by["solve"].note
    assert remote.within_limit


def test_stock_command_reports_where_the_work_ran(city, scheduler, tmp_path):
    from typer.testing import CliRunner

    from engine.cli import app

    out = tmp_path / "plan"
    r = CliRunner().invoke(app, ["stock", str(city), "--backend", "decomp", "--forecast", "hierarchical",
                                 "--scenarios", "6", "--time-limit", "3600", "--cluster", scheduler,
                                 "--out", str(out), "--json"])
    assert r.exit_code == 0, r.output
    run = json.loads(r.output)["run"]
    assert run["cluster"]["address"] == scheduler and run["cluster"]["workers"] == 2
    assert run["stages"][1]["stage"] == "cluster"
    saved = json.loads((out / "result.json").read_text())
    assert saved["run"]["cluster"]["stages"]["forecast"]["chunks"] >= 1
    r = CliRunner().invoke(app, ["stock", str(city), "--backend", "newsvendor", "--forecast", "hierarchical",
                                 "--scenarios", "4", "--cluster", scheduler])
    assert r.exit_code == 0, r.output
    assert "chunked work on" in r.output


@pytest.mark.parametrize("spec, words", [("local:x", "local:N needs a number"), ("local:0", "local:N needs a number"),
                                         ("http://h:1", "tcp://HOST:PORT or local:N")])
def test_bad_cluster_spec_is_a_config_error(city, spec, words):
    with pytest.raises(ConfigError, match=words):
        _plan(city, cluster=spec)


def test_without_dask_the_error_says_what_to_install(city, monkeypatch):
    monkeypatch.setitem(sys.modules, "dask.distributed", None)  # import fails as if not installed
    with pytest.raises(ConfigError, match=r"pip install 'nearstock\[dask\]'"):
        _plan(city, cluster="local:2")
