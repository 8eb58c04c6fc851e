"""Arrays sent to workers through shared memory arrive whole, read-only, and leave no segment behind."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from engine.simulate import sharing
from engine.simulate.sharing import attach, share


def _segment_exists(name: str) -> bool:
    return os.path.exists(os.path.join("/dev/shm", name.lstrip("/")))


@pytest.mark.skipif(not os.path.isdir("/dev/shm"), reason="POSIX shared memory under /dev/shm")
def test_large_arrays_travel_by_reference_and_are_unlinked_on_close() -> None:
    big = np.arange(300_000, dtype=float).reshape(3, 100, 1000)
    small = np.arange(10)
    obj = {"big": big, "small": small, "again": big, "text": "x"}
    with share(obj, [big, small], min_bytes=1 << 16) as shared:
        names = [s.name for s in shared.segments]
        assert len(names) == 1 and shared.nbytes >= big.nbytes
        assert len(shared.payload) < big.nbytes // 100  # the matrix is not in the pickle
        back = attach(shared.payload)
        np.testing.assert_array_equal(back["big"], big)
        np.testing.assert_array_equal(back["small"], small)
        assert back["again"] is back["big"]  # one array stays one array
        assert not back["big"].flags.writeable
        assert back["small"].flags.writeable  # pickled as usual
        assert all(_segment_exists(n) for n in names)
    assert not any(_segment_exists(n) for n in names)


def test_no_room_falls_back_to_a_plain_pickle(monkeypatch) -> None:
    monkeypatch.setattr(sharing, "_room", lambda nbytes: False)
    big = np.ones((200, 1000))
    with share({"m": big}, [big], min_bytes=1) as shared:
        assert shared.segments == []
        assert len(shared.payload) > big.nbytes
        np.testing.assert_array_equal(attach(shared.payload)["m"], big)


def test_a_failed_pickle_leaves_no_segment() -> None:
    big = np.ones((100, 1000))

    class Unpicklable:
        def __reduce__(self):
            raise pickle.PicklingError("no")

    before = set(os.listdir("/dev/shm")) if os.path.isdir("/dev/shm") else set()
    with pytest.raises(pickle.PicklingError):
        share({"m": big, "u": Unpicklable()}, [big], min_bytes=1)
    after = set(os.listdir("/dev/shm")) if os.path.isdir("/dev/shm") else set()
    assert after <= before


@settings(max_examples=25, deadline=None)
@given(hnp.arrays(dtype=st.sampled_from([np.float64, np.int64, np.float32, np.bool_]),
                  shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=6)))
def test_any_array_comes_back_equal(a) -> None:
    with share([a, 1], [a], min_bytes=0) as shared:
        b, one = attach(shared.payload)
        assert one == 1 and b.dtype == a.dtype and b.shape == a.shape
        np.testing.assert_array_equal(b, a)
