"""Every back-end declares its option names, and a misspelt name fails up front with a hint."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.dispatch import DISPATCH, check_day_settings
from engine.dispatch.backend_ortools import OPTIONS as ORTOOLS
from engine.dispatch.backend_pyvrp import OPTIONS as PYVRP
from engine.dispatch.day import DAY_OPTIONS
from engine.errors import BackendError, ConfigError
from engine.forecast import FORECASTERS, KNOWN_OPTIONS
from engine.solver import Registry, Settings
from engine.stocking import STOCKING
from engine.stocking.decomp import OPTIONS as DECOMP

REGISTRIES = (FORECASTERS, STOCKING, DISPATCH)
BACKENDS = [(r, name) for r in REGISTRIES for name in r.names()]


def test_every_registered_backend_declares_its_options() -> None:
    undeclared = [f"{r.stage}/{n}" for r, n in BACKENDS if r._entries[n].options is None]
    assert undeclared == []
    # the declared names are the ones the back-ends check themselves
    assert DISPATCH._entries["pyvrp"].options == PYVRP
    assert DISPATCH._entries["ortools"].options == ORTOOLS
    assert STOCKING._entries["decomp"].options == DECOMP
    assert {n: STOCKING._entries[n].options for n in ("highs", "cbc", "scip")} == dict.fromkeys(
        ("highs", "cbc", "scip"), frozenset({"relax"}))
    assert STOCKING._entries["days_of_cover"].options == {"cover_days"}
    assert STOCKING._entries["newsvendor"].options == frozenset()
    assert all(FORECASTERS._entries[n].options == KNOWN_OPTIONS for n in FORECASTERS.names())


def test_a_typo_names_stage_backend_key_and_the_close_match() -> None:
    with pytest.raises(ConfigError) as err:
        DISPATCH.check(Settings(backend="pyvrp", options={"recombne": 0.2}))
    msg = str(err.value)
    assert "dispatch back-end 'pyvrp'" in msg and "'recombne'" in msg and "did you mean recombine?" in msg
    with pytest.raises(ConfigError, match=r"stocking back-end 'decomp'.*'max_sweep' \(did you mean max_sweeps\?\)"):
        STOCKING.check(Settings(backend="decomp", options={"max_sweep": 3}))
    with pytest.raises(ConfigError, match=r"'zzz'; known"):  # nothing close: no made-up hint
        STOCKING.check(Settings(backend="days_of_cover", options={"zzz": 1}))


def test_day_planning_accepts_its_own_options_besides_the_backends() -> None:
    check_day_settings(Settings(backend="ortools", options={"first_solution": "SAVINGS",
                                                            **dict.fromkeys(DAY_OPTIONS, 1)}))
    with pytest.raises(ConfigError, match="did you mean wave_time_per_order"):
        check_day_settings(Settings(backend="ortools", options={"wave_time_per_ordr": 0.01}))
    with pytest.raises(ConfigError, match="dispatch back-end 'ortools'.*'recombine'"):
        check_day_settings(Settings(backend="ortools", options={"recombine": 0.2}))  # a PyVRP option
    with pytest.raises(BackendError, match="unknown dispatch back-end 'pyvpr'"):
        check_day_settings(Settings(backend="pyvpr"))


def test_undeclared_backends_are_not_checked_and_declaring_makes_them_checked() -> None:
    reg: Registry = Registry("demo", default="a")
    reg.register("a")(lambda: None)
    reg.check(Settings(options={"anything": 1}))  # nothing declared: the back-end checks itself
    reg.declare_options("a", {"alpha"})
    reg.check(Settings(options={"alpha": 1}))
    with pytest.raises(ConfigError, match=r"demo back-end 'a': unknown option\(s\) 'alpa' \(did you mean alpha\?\)"):
        reg.check(Settings(options={"alpa": 1}))


@given(st.sampled_from(BACKENDS), st.data())
def test_any_one_letter_typo_of_a_declared_option_is_caught_with_the_right_hint(case, data) -> None:
    registry, name = case
    declared = sorted(registry._entries[name].options or ())
    if not declared:
        return  # no option names at all (newsvendor): nothing to misspell
    option = data.draw(st.sampled_from(declared))
    cut = data.draw(st.integers(0, len(option) - 1))
    typo = option[:cut] + option[cut + 1:]  # one letter dropped
    if typo in declared or not typo:
        return
    with pytest.raises(ConfigError) as err:
        registry.check(Settings(backend=name, options={typo: 1}))
    msg = str(err.value)
    assert f"{registry.stage} back-end {name!r}" in msg and repr(typo) in msg
    hint = msg.split(repr(typo), 1)[1].split(";", 1)[0]
    assert "did you mean" in hint and option in hint
