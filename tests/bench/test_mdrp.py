"""The Grubhub MDRP instances in the event-driven execution: reader, measures, and an independent
checker of the executed stops against the instance rules (SOURCES.md of the shared data).

The checker reads the instance's text files with pandas itself and nothing from the engine, so
a stops table that passes it obeys the rules whatever produced it.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from engine.bench.mdrp import (
    BUNDLE_MAX,
    ROW_COLUMNS,
    STOPS_COLUMNS,
    MdrpFormatError,
    find_instances,
    read_mdrp,
    run_mdrp,
)
from engine.dispatch.problem import CROWD
from engine.simulate.logcheck import check_execution
from engine.solver import Settings
from tests.helpers import REPO, SHARED

MDRP = SHARED / "data" / "courier" / "mdrp"
SMALLEST = MDRP / "0r50t100s1p100"  # 242 orders, 61 couriers
RESULTS = REPO / "benchmarks" / "dispatch" / "results"
TOL = 1e-6
needs_data = pytest.mark.skipif(not SMALLEST.is_dir(), reason="shared MDRP data not present")


# ---- the independent checker ---------------------------------------------------------------------


def check_stops(folder: Path, stops: pd.DataFrame) -> list[str]:
    """Every rule of the MDRP description that ``stops`` breaks (empty = a valid executed day)."""
    rd = dict(sep="\t")
    orders = pd.read_csv(folder / "orders.txt", **rd).set_index("order")
    rest = pd.read_csv(folder / "restaurants.txt", **rd).set_index("restaurant")
    cour = pd.read_csv(folder / "couriers.txt", **rd).set_index("courier")
    par = pd.read_csv(folder / "instance_parameters.txt", **rd).iloc[0]
    mpm, s_pick, s_drop = (
        float(par[k])
        for k in ("meters_per_minute", "pickup service minutes", "dropoff service minutes")
    )
    c_max = float(par["maximum click-to-door"])

    def ride(a: tuple[float, float], b: tuple[float, float]) -> float:
        return math.ceil(math.hypot(a[0] - b[0], a[1] - b[1]) / mpm)

    out: list[str] = []
    if set(stops["kind"]) - {"pickup", "dropoff"}:
        out.append(f"unknown stop kinds {set(stops['kind']) - {'pickup', 'dropoff'}}")
    for kind in ("pickup", "dropoff"):
        k = stops[stops["kind"] == kind]
        twice = k.loc[k["order"].duplicated(), "order"]
        if len(twice):
            out.append(f"orders with two {kind}s: {sorted(set(twice))[:5]}")
        unknown = set(k["order"]) - set(orders.index)
        if unknown:
            out.append(f"{kind} of unknown orders {sorted(unknown)[:5]}")
    picked = stops[stops["kind"] == "pickup"].set_index("order")
    for cid, g in stops.groupby("courier", sort=False):
        if cid not in cour.index:
            out.append(f"unknown courier {cid}")
            continue
        g = g.sort_values("seq")
        if list(g["seq"]) != list(range(1, len(g) + 1)):
            out.append(f"courier {cid}: seq is not 1..{len(g)}")
        on, off = float(cour.at[cid, "on_time"]), float(cour.at[cid, "off_time"])
        here, free = (float(cour.at[cid, "x"]), float(cour.at[cid, "y"])), on
        rows = list(g.itertuples(index=False))
        i = 0
        while i < len(rows):
            r = rows[i]
            if r.kind != "pickup":
                out.append(f"courier {cid} seq {r.seq}: a drop-off without a bundle on board")
                i += 1
                continue
            # one pickup visit: a run of pickup rows at one restaurant and one minute
            j = i
            while j < len(rows) and rows[j].kind == "pickup" and rows[j].arrive_min == r.arrive_min:
                j += 1
            bundle = rows[i:j]
            ids = [b.order for b in bundle]
            if any(b.order not in orders.index for b in bundle):
                i = j
                continue
            if len(bundle) > BUNDLE_MAX:
                out.append(
                    f"courier {cid} seq {r.seq}: bundle of {len(bundle)} orders (at most {BUNDLE_MAX})"
                )
            if len({b.restaurant for b in bundle}) > 1 or any(
                orders.at[o, "restaurant"] != r.restaurant for o in ids
            ):
                out.append(
                    f"courier {cid} seq {r.seq}: bundle mixes restaurants or names the wrong one"
                )
            if r.restaurant not in rest.index:
                out.append(f"courier {cid} seq {r.seq}: unknown restaurant {r.restaurant}")
                i = j
                continue
            at = (float(rest.at[r.restaurant, "x"]), float(rest.at[r.restaurant, "y"]))
            if r.arrive_min < free + ride(here, at) - TOL:
                out.append(
                    f"courier {cid} seq {r.seq}: reached {r.restaurant} at {r.arrive_min:g}, faster than "
                    f"{ride(here, at):g} min from where it was free at {free:g}"
                )
            ready = max(float(orders.at[o, "ready_time"]) for o in ids)
            start = max(r.arrive_min, ready)
            if r.arrive_min < on - TOL:
                out.append(f"courier {cid} seq {r.seq}: pickup before its shift starts")
            if start > off + TOL:
                out.append(
                    f"courier {cid} seq {r.seq}: pickup at {start:g}, after its off time {off:g}"
                )
            if r.depart_min < start + s_pick - TOL:
                out.append(
                    f"courier {cid} seq {r.seq}: left at {r.depart_min:g}, before ready ({ready:g}) + "
                    f"pickup service {s_pick:g}"
                )
            for b in bundle:
                placed = float(orders.at[b.order, "placement_time"])
                if not placed - TOL <= b.assigned_min <= r.arrive_min + TOL:
                    out.append(
                        f"order {b.order}: assigned at {b.assigned_min}, not between its placement "
                        f"{placed:g} and its pickup {r.arrive_min:g}"
                    )
            here, free = at, r.depart_min
            # its drop-offs, each order of the bundle once, straight after
            drops = rows[j : j + len(bundle)]
            if sorted(d.order for d in drops if d.kind == "dropoff") != sorted(ids):
                out.append(
                    f"courier {cid} seq {r.seq}: the drop-offs after the pickup are not its bundle's orders"
                )
            for d in drops:
                if d.kind != "dropoff" or d.order not in orders.index:
                    continue
                door = (float(orders.at[d.order, "x"]), float(orders.at[d.order, "y"]))
                if d.arrive_min < free + ride(here, door) - TOL:
                    out.append(
                        f"courier {cid} seq {d.seq}: reached {d.order} at {d.arrive_min:g}, faster than "
                        f"{ride(here, door):g} min"
                    )
                if d.depart_min < d.arrive_min + s_drop - TOL:
                    out.append(
                        f"courier {cid} seq {d.seq}: drop-off service shorter than {s_drop:g} min"
                    )
                if d.arrive_min - float(orders.at[d.order, "placement_time"]) > c_max + TOL:
                    out.append(f"order {d.order}: click-to-door beyond the maximum {c_max:g}")
                if d.order in picked.index and picked.at[d.order, "courier"] != cid:
                    out.append(
                        f"order {d.order}: picked by {picked.at[d.order, 'courier']}, dropped by {cid}"
                    )
                here, free = door, d.depart_min
            i = j + len(drops)
    return out


# ---- orders no dispatcher can deliver --------------------------------------------------------------


def undeliverable(folder: Path) -> set[str]:
    """The orders of ``folder`` that no plan can deliver under the instance's rules, from its text
    files alone.

    Whoever picks order o up, courier c, is on duty from ``on_time`` at its start, so its pickup
    starts at p >= max(ready, on_time + ride(start, restaurant)): any way there through other
    places takes at least as long, because a sum of rounded-up legs is at least the rounded-up
    straight distance. The pickup may not start after its ``off_time``, and the door is reached
    at p + pickup service + ride(restaurant, door) at the soonest (drop-offs of other orders
    first only add). If every courier either starts too late or reaches the door later than
    placement + maximum click-to-door, o cannot be delivered by anyone, with any look-ahead."""
    rd = dict(sep="\t")
    orders = pd.read_csv(folder / "orders.txt", **rd)
    rest = pd.read_csv(folder / "restaurants.txt", **rd).set_index("restaurant")
    cour = pd.read_csv(folder / "couriers.txt", **rd)
    par = pd.read_csv(folder / "instance_parameters.txt", **rd).iloc[0]
    mpm, s_pick = float(par["meters_per_minute"]), float(par["pickup service minutes"])
    c_max = float(par["maximum click-to-door"])
    rxy = rest.loc[orders["restaurant"], ["x", "y"]].to_numpy(float)  # (n, 2)
    door = orders[["x", "y"]].to_numpy(float)
    cxy = cour[["x", "y"]].to_numpy(float)
    ride = np.ceil(np.hypot(*(door - rxy).T) / mpm)  # (n,)
    reach = np.ceil(np.hypot(rxy[:, None, 0] - cxy[None, :, 0], rxy[:, None, 1] - cxy[None, :, 1]) / mpm)
    start = np.maximum(orders["ready_time"].to_numpy(float)[:, None],
                       cour["on_time"].to_numpy(float)[None, :] + reach)  # (n, couriers)
    ok = start <= cour["off_time"].to_numpy(float)[None, :]
    ok &= start + s_pick + ride[:, None] <= orders["placement_time"].to_numpy(float)[:, None] + c_max
    return set(orders.loc[~ok.any(axis=1), "order"])


# the five instances of issue #15.4's targets, and their orders that nobody can deliver: food ready
# more than 86 min after placement (o114 108 min, o795 137, o309 115; o1341 88 min, with 4 min of
# pickup and a 1-min ride 93 > 90), or ready after every courier's off time (o279, o363: ready
# at 1 087, the last courier goes off duty at 1 065)
IMPOSSIBLE = {
    "0o100t100s1p100": set(),
    "1o100t100s1p100": set(),
    "2o100t100s1p100": set(),
    "3o100t100s1p100": {"o114", "o279", "o363", "o795"},
    "6o100t100s1p100": {"o309", "o1341"},
}


def test_undeliverable_by_hand(tmp_path: Path) -> None:
    # o1 fine; o2 ready 87 min after placement: 87 + 4 + 1 > 90; o3 ready after c1's off time
    path = write_instance(
        tmp_path / "t",
        orders=[("o1", 320, 0, 10, "r1", 20), ("o2", 320, 0, 10, "r1", 97), ("o3", 320, 0, 50, "r1", 121)],
        restaurants=[("r1", 0, 0)],
        couriers=[("c1", 0, 0, 0, 120)],
    )
    assert undeliverable(path) == {"o2", "o3"}
    run = run_mdrp(read_mdrp(path), "matching", period=2)
    assert set(run.day.orders.loc[run.day.orders["state"] != "delivered", "order"]) == {"o2", "o3"}


@needs_data
@pytest.mark.parametrize("name", sorted(IMPOSSIBLE))
def test_the_impossible_orders_of_the_five(name: str) -> None:
    assert undeliverable(MDRP / name) == IMPOSSIBLE[name]


# orders of the five that some plan could deliver and ``matching`` (its defaults) does not: o364 on
# 1o100, lost to courier scarcity at its hard limit (MDRP.md section 9)
LOST_BUT_POSSIBLE = {"1o100t100s1p100": {"o364"}}


def _committed_run_of_the_five(stem: str) -> tuple[pd.DataFrame, dict[str, set[str]]]:
    """A committed run of the five (``results/<stem>.csv`` and its stops): its rows by instance,
    and per instance the orders of the instance file that no committed drop-off delivered."""
    if not MDRP.is_dir():
        pytest.skip("shared MDRP data not present")
    rows = pd.read_csv(RESULTS / f"{stem}.csv").set_index("instance")
    stops = pd.read_csv(RESULTS / f"{stem}_stops.csv.gz")
    assert sorted(rows.index) == sorted(IMPOSSIBLE)
    undelivered = {}
    for name in IMPOSSIBLE:
        orders = set(pd.read_csv(MDRP / name / "orders.txt", sep="\t")["order"])
        assert rows.at[name, "orders"] == len(orders), name
        dropped = set(stops.loc[(stops["instance"] == name) & (stops["kind"] == "dropoff"), "order"])
        undelivered[name] = orders - dropped
    return rows, undelivered


def test_matching_loses_only_the_impossible_orders_and_one_more_on_the_five() -> None:
    """The committed run of the five with ``matching``'s defaults before the scarcity rule
    (``results/mdrp_matching_after151*``): the orders it does not deliver are the impossible
    ones and o364 on ``1o100...``."""
    rows, undelivered = _committed_run_of_the_five("mdrp_matching_after151")
    for name, bad in IMPOSSIBLE.items():
        lost = bad | LOST_BUT_POSSIBLE.get(name, set())
        assert undelivered[name] == lost, name
        assert rows.at[name, "delivered"] == rows.at[name, "orders"] - len(lost)


def test_matching_delivers_every_order_that_can_be_delivered_on_the_five() -> None:
    """The committed run of the five with today's ``matching`` (the scarcity rule on,
    ``results/mdrp_matching_scarce*``, MDRP.md section 10): every order is delivered except the
    impossible ones, and #15.4's other targets hold on each of the five."""
    rows, undelivered = _committed_run_of_the_five("mdrp_matching_scarce")
    for name, bad in IMPOSSIBLE.items():
        assert undelivered[name] == bad, name
        r = rows.loc[name]
        assert r["delivered"] == r["orders"] - len(bad)
        assert r["click_to_door_mean"] <= 1.15 * r["lower_bound_mean"], name
        assert r["within_target_when_possible"] >= 0.90, name
    assert rows.loc["6o100t100s1p100", "replan_s_p95"] <= 2.0  # the largest of the five (1 671 orders)


# ---- small synthetic instances (files written in tmp_path) ---------------------------------------

PARAMS = (
    "meters_per_minute\tpickup service minutes\tdropoff service minutes\ttarget click-to-door\t"
    "maximum click-to-door\tpay per order\tguaranteed pay per hour\n320\t4\t4\t40\t90\t10\t15\n"
)


def write_instance(
    path: Path,
    orders: list[tuple],
    restaurants: list[tuple],
    couriers: list[tuple],
    params: str = PARAMS,
) -> Path:
    path.mkdir(parents=True, exist_ok=True)

    def table(name: str, head: str, rows: list[tuple]) -> None:
        (path / name).write_text(
            head + "\n" + "".join("\t".join(str(v) for v in r) + "\n" for r in rows)
        )

    table("orders.txt", "order\tx\ty\tplacement_time\trestaurant\tready_time", orders)
    table("restaurants.txt", "restaurant\tx\ty", restaurants)
    table("couriers.txt", "courier\tx\ty\ton_time\toff_time", couriers)
    (path / "instance_parameters.txt").write_text(params)
    return path


def tiny(path: Path) -> Path:
    """Two restaurants, five orders (three from r1 close in time: a bundle), two couriers."""
    return write_instance(
        path,
        orders=[
            ("o1", 1000, 0, 10, "r1", 20),
            ("o2", 1320, 0, 11, "r1", 21),
            ("o3", 1640, 0, 12, "r1", 22),
            ("o4", 0, 3200, 30, "r2", 45),
            ("o5", 320, 3200, 100, "r2", 110),
        ],
        restaurants=[("r1", 0, 0), ("r2", 0, 1600)],
        couriers=[("c1", 0, 640, 0, 120), ("c2", 3200, 3200, 20, 200)],
    )


def random_instance(path: Path, seed: int, n: int) -> Path:
    rng = np.random.default_rng(seed)
    rest = [(f"r{k}", int(x), int(y)) for k, (x, y) in enumerate(rng.integers(0, 4000, (3, 2)), 1)]
    place = np.sort(rng.integers(0, 120, n))
    orders = [
        (
            f"o{i + 1}",
            int(rng.integers(0, 5000)),
            int(rng.integers(0, 5000)),
            int(p),
            rest[int(rng.integers(0, 3))][0],
            int(p + rng.integers(1, 25)),
        )
        for i, p in enumerate(place)
    ]
    on = rng.integers(0, 60, 4)
    cour = [
        (f"c{k + 1}", int(rng.integers(0, 5000)), int(rng.integers(0, 5000)), int(a), int(a + 150))
        for k, a in enumerate(on)
    ]
    return write_instance(path, orders, rest, cour)


# ---- the reader --------------------------------------------------------------------------------------


def test_reader_builds_the_dispatch_problem(tmp_path: Path) -> None:
    inst = read_mdrp(tiny(tmp_path / "t"))
    P = inst.problem
    assert (P.n_orders, P.n_couriers, len(P.warehouse_ids)) == (5, 2, 2)
    assert inst.rules.meters_per_minute == 320 and inst.rules.pickup_service_min == 4
    assert (
        (P.courier_profile == CROWD).all()
        and (P.end_loc == -1).all()
        and (P.capacity == BUNDLE_MAX).all()
    )
    assert (P.size == 1).all() and (P.service == 4).all() and (P.accept_prob == 1).all()
    assert list(inst.created) == [10, 11, 12, 30, 100]
    assert list(P.ready) == [20, 21, 22, 45, 110]
    assert list(P.start_min) == [0, 20] and list(P.pickup_end) == [120, 200]  # no pickup after off
    assert np.isinf(P.end_min).all()  # drop-offs may finish after it
    # o3 is 1640 m from r1: ceil(1640 / 320) = 6 minutes (the instance's rule, circuity 1)
    r1, o3 = int(P.warehouse_loc[0]), int(P.order_loc[2])
    assert P.time_min[CROWD, r1, o3] == 6 and P.dist_km[CROWD, r1, o3] == pytest.approx(1.64)
    # the promise is the target itself; the 4 pickup minutes are the restaurants' pickup service
    assert list(P.due) == [10 + 40, 11 + 40, 12 + 40, 30 + 40, 100 + 40]
    assert list(P.pickup_service) == [4, 4]


def test_lower_bound_by_hand(tmp_path: Path) -> None:
    inst = read_mdrp(tiny(tmp_path / "t"))
    # o1: ready 20 - placed 10, + pickup 4, + ceil(1000/320)=4 -> 18 ; o4: 15 + 4 + 5 = 24
    assert inst.lower_bound()[[0, 3]].tolist() == [18.0, 24.0]


@needs_data
def test_reader_on_a_shared_instance_matches_its_characteristics() -> None:
    inst = read_mdrp(SMALLEST)
    text = (SMALLEST / "instance_characteristics.txt").read_text()
    assert f"number of orders: {inst.problem.n_orders}" in text
    assert f"number of couriers: {inst.problem.n_couriers}" in text
    assert f"number of restaurants: {len(inst.problem.warehouse_ids)}" in text


@pytest.mark.parametrize(
    ("file", "edit", "where"),
    [
        (
            "orders.txt",
            lambda s: s.replace("\t1000\t0\t10\t", "\t1000\t0\tten\t"),
            "orders.txt, line 2, column 'placement_time'",
        ),
        (
            "orders.txt",
            lambda s: s.replace("o5\t320\t3200\t100\tr2", "o5\t320\t3200\t100\tr9"),
            "orders.txt, line 6, column 'restaurant'",
        ),
        ("orders.txt", lambda s: s.replace("o2\t", "o1\t"), "orders.txt, line 3, column 'order'"),
        (
            "orders.txt",
            lambda s: s.replace("\t30\tr2\t45", "\t30\tr2\t25"),
            "orders.txt, line 5, column 'ready_time'",
        ),
        ("orders.txt", lambda s: s.replace("ready_time", "ready"), "orders.txt, line 1"),
        (
            "couriers.txt",
            lambda s: s.replace("\t20\t200", "\t20\t20"),
            "couriers.txt, line 3, column 'off_time'",
        ),
        (
            "couriers.txt",
            lambda s: s.replace("3200\t3200", "3200\t"),
            "couriers.txt, line 3, column 'y'",
        ),
        (
            "instance_parameters.txt",
            lambda s: s + "320\t4\t4\t40\t90\t10\t15\n",
            "instance_parameters.txt",
        ),
        (
            "instance_parameters.txt",
            lambda s: s.replace("320\t", "0\t"),
            "instance_parameters.txt, line 2, column 'meters_per_minute'",
        ),
    ],
)
def test_bad_files_are_named_with_line_and_column(
    tmp_path: Path, file: str, edit, where: str
) -> None:
    path = tiny(tmp_path / "t")
    f = path / file
    f.write_text(edit(f.read_text()))
    with pytest.raises(MdrpFormatError) as e:
        read_mdrp(path)
    assert where in str(e.value)


def test_missing_file_and_not_a_folder(tmp_path: Path) -> None:
    path = tiny(tmp_path / "t")
    (path / "couriers.txt").unlink()
    with pytest.raises(MdrpFormatError, match="couriers.txt: file not found"):
        read_mdrp(path)
    with pytest.raises(MdrpFormatError, match="is a folder with orders.txt"):
        read_mdrp(path / "orders.txt")


def test_find_instances_expands_a_parent_folder(tmp_path: Path) -> None:
    a, b = tiny(tmp_path / "all" / "b"), tiny(tmp_path / "all" / "a")
    assert find_instances([tmp_path / "all"]) == [b, a]
    assert find_instances([a]) == [a]


# ---- executed days pass the checker ----------------------------------------------------------------


@pytest.mark.parametrize("policy", ["greedy", "rolling", "waves", "matching"])
def test_tiny_instance_each_policy_obeys_the_rules(tmp_path: Path, policy: str) -> None:
    path = tiny(tmp_path / "t")
    run = run_mdrp(
        read_mdrp(path), policy, period=2, settings=Settings(backend="pyvrp", time_limit=0.2)
    )
    assert check_stops(path, run.stops) == []
    assert check_execution(run.day) == []
    r = run.row
    assert list(run.to_frame().columns) == list(ROW_COLUMNS) and list(run.stops.columns) == list(
        STOPS_COLUMNS
    )
    assert r["delivered"] == 5 and r["click_to_door_mean"] >= r["lower_bound_mean"] - TOL
    # pay: c1 shift 2 h -> guarantee 30; c2 3 h -> 45; per order 10 each: max of the two per courier
    n = (
        run.stops[run.stops["kind"] == "dropoff"]
        .groupby("courier")
        .size()
        .reindex(["c1", "c2"], fill_value=0)
    )
    assert r["total_pay"] == max(10 * n["c1"], 30) + max(10 * n["c2"], 45)
    assert r["pay_per_order"] == pytest.approx(r["total_pay"] / 5)
    if policy != "greedy":
        assert (
            r["orders_per_trip"] > 1
        )  # o1..o3 ready within two minutes at one restaurant: bundled
    else:
        assert r["orders_per_trip"] == 1


def test_measures_by_hand_on_one_order(tmp_path: Path) -> None:
    # c1 waits at r1 from minute 0; o1 placed 10, ready 20: pickup 20-24, ride 4 -> door at 28
    path = write_instance(
        tmp_path / "one",
        orders=[("o1", 1000, 0, 10, "r1", 20)],
        restaurants=[("r1", 0, 0)],
        couriers=[("c1", 0, 0, 0, 120)],
    )
    run = run_mdrp(read_mdrp(path), "greedy", period=2)
    r = run.row
    assert r["click_to_door_mean"] == 18 == r["lower_bound_mean"]
    assert (
        r["ready_to_pickup_mean"] == 0 and r["ready_to_door_mean"] == 8 and r["within_target"] == 1
    )
    assert r["total_pay"] == 30 and r["couriers_on_guarantee"] == 1  # 2 h x 15 beats 1 x 10
    assert r["utilisation"] == pytest.approx(
        (4 + 4 + 4) / 120
    )  # pickup + ride + drop-off over the shift
    assert run.stops[["kind", "arrive_min", "depart_min", "assigned_min"]].values.tolist() == [
        ["pickup", 10.0, 24.0, 10.0],
        ["dropoff", 28.0, 32.0, 10.0],
    ]


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 12))
def test_greedy_days_obey_the_rules_and_the_bound(
    tmp_path_factory: pytest.TempPathFactory, seed: int, n: int
) -> None:
    path = random_instance(tmp_path_factory.mktemp("mdrp"), seed, n)
    run = run_mdrp(read_mdrp(path), "greedy", period=2)
    assert check_stops(path, run.stops) == []
    ctd = run.day.orders["arrived_min"].to_numpy(float) - run.instance.created
    ok = run.day.orders["state"] == "delivered"
    assert (ctd[ok] >= run.instance.lower_bound()[ok] - TOL).all()


@needs_data
def test_smallest_shared_instance_greedy_obeys_the_rules() -> None:
    run = run_mdrp(read_mdrp(SMALLEST), "greedy", period=2)
    assert check_stops(SMALLEST, run.stops) == []
    assert run.row["delivered"] >= 0.99 * run.row["orders"]


@pytest.mark.slow
@needs_data
def test_smallest_shared_instance_rolling_obeys_the_rules() -> None:
    run = run_mdrp(read_mdrp(SMALLEST), "rolling", period=2)
    assert check_stops(SMALLEST, run.stops) == []
    assert check_execution(run.day) == []


@pytest.mark.parametrize("name", sorted(p.name for p in RESULTS.glob("mdrp_*_stops.csv.gz")))
def test_committed_benchmark_stops_obey_the_rules(name: str) -> None:
    if not MDRP.is_dir():
        pytest.skip("shared MDRP data not present")
    stops = pd.read_csv(RESULTS / name)
    rows = pd.read_csv(RESULTS / name.replace("_stops.csv.gz", ".csv"))
    for inst, g in stops.groupby("instance"):
        assert check_stops(MDRP / inst, g) == [], inst
        assert (g["kind"] == "dropoff").sum() == int(
            rows.set_index("instance").at[inst, "delivered"]
        )


# ---- the checker catches broken plans -------------------------------------------------------------


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    path = tiny(tmp_path_factory.mktemp("good") / "t")
    run = run_mdrp(
        read_mdrp(path), "rolling", period=2, settings=Settings(backend="pyvrp", time_limit=0.2)
    )
    assert check_stops(path, run.stops) == []
    assert (run.stops["kind"] == "pickup").sum() == 5
    return path, run.stops


def _first(s: pd.DataFrame, kind: str) -> int:
    return int(s.index[s["kind"] == kind][0])


@pytest.mark.parametrize(
    ("break_it", "message"),
    [
        (
            lambda s: s.assign(
                depart_min=s["depart_min"] - np.where(s["kind"] == "pickup", 30.0, 0.0)
            ),
            "before ready",
        ),
        (
            lambda s: s.assign(
                arrive_min=s["arrive_min"] - np.where(s["kind"] == "dropoff", 50.0, 0.0)
            ),
            "faster than",
        ),
        (lambda s: s.assign(assigned_min=s["assigned_min"] - 100.0), "not between its placement"),
        (
            lambda s: pd.concat(
                [s, s.iloc[[-1]].assign(seq=s["seq"].max() + 1)], ignore_index=True
            ),
            "two dropoffs",
        ),
        (
            lambda s: s.assign(restaurant=np.where(s["kind"] == "pickup", "r2", s["restaurant"])),
            "wrong one",
        ),
        (
            lambda s: s.assign(
                depart_min=s["depart_min"] - np.where(s["kind"] == "dropoff", 1.0, 0.0)
            ),
            "service shorter",
        ),
    ],
)
def test_checker_catches_broken_stops(
    good: tuple[Path, pd.DataFrame], break_it, message: str
) -> None:
    path, stops = good
    assert any(message in p for p in check_stops(path, break_it(stops.copy())))


def test_checker_catches_big_bundles_and_late_pickups(tmp_path: Path) -> None:
    orders = [(f"o{i}", 320 * i, 0, 0, "r1", 5) for i in range(1, 6)]
    path = write_instance(tmp_path / "b", orders, [("r1", 0, 0)], [("c1", 0, 0, 0, 30)])
    rows = [("c1", k + 1, "pickup", f"o{k + 1}", "r1", 40.0, 44.0, 0.0) for k in range(5)]
    rows += [
        ("c1", 6 + k, "dropoff", f"o{k + 1}", "r1", 45.0 + 5 * k, 49.0 + 5 * k, 0.0)
        for k in range(5)
    ]
    s = pd.DataFrame(
        rows,
        columns=[
            "courier",
            "seq",
            "kind",
            "order",
            "restaurant",
            "arrive_min",
            "depart_min",
            "assigned_min",
        ],
    )
    found = check_stops(path, s)
    assert any("bundle of 5" in p for p in found) and any("after its off time" in p for p in found)


# ---- the command ------------------------------------------------------------------------------------


def test_bench_mdrp_command_writes_rows_and_stops(tmp_path: Path) -> None:
    from engine.cli import app

    path = tiny(tmp_path / "inst" / "t")
    out, stops = tmp_path / "r.csv", tmp_path / "s.csv"
    args = [
        "bench",
        "mdrp",
        str(tmp_path / "inst"),
        "--policy",
        "greedy",
        "--period",
        "2",
        "--out",
        str(out),
        "--stops-out",
        str(stops),
    ]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    rows, s = pd.read_csv(out), pd.read_csv(stops)
    assert list(rows.columns) == list(ROW_COLUMNS) and rows["delivered"].tolist() == [5]
    assert check_stops(path, s) == []
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 1 and "--force" in again.output
    assert CliRunner().invoke(app, [*args, "--force"]).exit_code == 0
    bad = CliRunner().invoke(app, ["bench", "mdrp", str(path), "--policy", "fastest"])
    assert bad.exit_code == 1 and "unknown dispatch policy" in bad.output


def test_mdrp_doc_tables_are_the_scripts_output_of_the_committed_files() -> None:
    """Every table in MDRP.md is printed, unchanged, by the command on its Source line.

    The scripts run in this process (``runpy``, as ``__main__``, from the repository root):
    29 interpreters starting and importing pandas cost more than all the tables."""
    import contextlib
    import io
    import os
    import re
    import runpy
    import sys

    doc = (REPO / "benchmarks" / "dispatch" / "MDRP.md").read_text(encoding="utf-8")
    sources = [ln for ln in doc.splitlines() if ln.startswith("Source:")]
    assert sources
    here, argv, path = os.getcwd(), sys.argv, list(sys.path)
    try:
        os.chdir(REPO)
        for ln in sources:
            cmd = re.findall(r"`(python [^`]+)`", ln)[0].split()
            sys.argv = cmd[1:]
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                try:
                    runpy.run_path(str(REPO / cmd[1]), run_name="__main__")
                except SystemExit as stop:
                    assert stop.code in (None, 0), f"{' '.join(cmd)} exited with {stop.code}"
            printed = out.getvalue().strip()
            assert printed.count("\n") >= 2, f"{' '.join(cmd)} printed no table"
            assert printed in doc, f"the table of {' '.join(cmd)} is not in MDRP.md as printed"
    finally:
        os.chdir(here)
        sys.argv, sys.path[:] = argv, path


def test_bench_mdrp_never_replaces_a_folder_or_leaves_temporary_files(tmp_path: Path) -> None:
    from engine.cli import app

    path = tiny(tmp_path / "inst" / "t")
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "mine.txt").write_text("precious")
    mine = tmp_path / "mine.csv"
    mine.write_text("precious\n")
    base = ["bench", "mdrp", str(path), "--policy", "greedy"]
    for extra in (["--out", str(folder)], ["--stops-out", str(folder)]):
        res = CliRunner().invoke(app, [*base, *extra, "--force"])
        assert res.exit_code == 1 and "is an existing directory" in " ".join(res.output.split())
    res = CliRunner().invoke(app, [*base, "--stops-out", str(mine)])
    assert res.exit_code == 1 and mine.read_text() == "precious\n"  # refused before any run
    same = CliRunner().invoke(app, [*base, "--out", str(mine), "--stops-out", str(mine), "--force"])
    assert same.exit_code == 1 and "the same file" in " ".join(same.output.split())
    assert (folder / "mine.txt").read_text() == "precious"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_bench_mdrp_checks_every_instance_before_the_first_run(tmp_path: Path) -> None:
    from engine.cli import app

    good = tiny(tmp_path / "inst" / "a")
    bad = tiny(tmp_path / "inst" / "b")
    (bad / "orders.txt").write_text((bad / "orders.txt").read_text().replace("\t22\n", "\tsoon\n"))
    out = tmp_path / "r.csv"
    res = CliRunner().invoke(app, ["bench", "mdrp", str(good), str(bad), "--policy", "greedy", "--out", str(out)])
    text = " ".join(res.output.split())
    assert res.exit_code == 1 and "orders.txt, line 4, column 'ready_time'" in text and not out.exists()
