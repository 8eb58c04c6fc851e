"""Large read-only arrays sent to worker processes once, through shared memory.

The replications of a day share one dispatch problem whose travel matrices dominate its size
(two ``(2, L, L)`` float arrays: about 200 MB on metro-medium's day). Pickled into every worker
they are copied once per worker, and each worker then walks its own copy. :func:`share`
instead places them in POSIX shared memory and pickles the rest of the object with a
reference to each segment (pickle's *persistent id* mechanism); :func:`attach` rebuilds the
object in a worker as read-only views of the same physical pages.

The segments belong to the process that called :func:`share`: :meth:`Shared.close` unlinks
them (use it as a context manager). If that process dies first, multiprocessing's resource
tracker unlinks them. When ``/dev/shm`` (or the platform's equivalent) has no room for the
arrays with a margin, :func:`share` falls back to plain pickling: the same object arrives,
only copied.
"""

from __future__ import annotations

import io
import os
import pickle
import sys
from dataclasses import dataclass, field
from multiprocessing import shared_memory
from typing import Any

import numpy as np

_ATTACHED: list[shared_memory.SharedMemory] = []  # a worker's segments, open while it lives
_SHM_DIR = "/dev/shm"


@dataclass
class Shared:
    """An object pickled with its large arrays in shared memory (``segments``; none on fallback)."""

    payload: bytes
    segments: list[shared_memory.SharedMemory] = field(default_factory=list)

    @property
    def nbytes(self) -> int:
        return sum(s.size for s in self.segments)

    def close(self) -> None:
        """Release and unlink the segments (idempotent)."""
        while self.segments:
            s = self.segments.pop()
            s.close()
            try:
                s.unlink()
            except FileNotFoundError:
                pass

    def __enter__(self) -> Shared:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Pickler(pickle.Pickler):
    def __init__(self, f: io.BytesIO, refs: dict[int, tuple[str, str, tuple[int, ...], str]]) -> None:
        super().__init__(f, protocol=pickle.HIGHEST_PROTOCOL)
        self._refs = refs

    def persistent_id(self, obj: Any) -> Any:  # noqa: ANN401 - pickle's protocol
        if type(obj) is np.ndarray:
            return self._refs.get(id(obj))
        return None


class _Unpickler(pickle.Unpickler):
    def __init__(self, f: io.BytesIO) -> None:
        super().__init__(f)
        self._views: dict[str, np.ndarray] = {}  # pickle does not memoise persistent ids

    def persistent_load(self, pid: Any) -> Any:  # noqa: ANN401 - pickle's protocol
        kind, name, shape, dtype = pid
        if kind != "nearstock-shm":
            raise pickle.UnpicklingError(f"unknown persistent reference {kind!r}")
        if name not in self._views:
            seg = _open(name)
            _ATTACHED.append(seg)
            a = np.ndarray(shape, dtype=np.dtype(dtype), buffer=seg.buf)
            a.setflags(write=False)
            self._views[name] = a
        return self._views[name]


def _open(name: str) -> shared_memory.SharedMemory:
    """Attach to an existing segment without handing it to this process's resource tracker
    (the creator owns it; Python >= 3.13 has ``track``, before it the tracker is the creator's,
    shared by its multiprocessing children, so registering again changes nothing)."""
    if sys.version_info >= (3, 13):
        return shared_memory.SharedMemory(name=name, track=False)
    return shared_memory.SharedMemory(name=name)


def _room(nbytes: int) -> bool:
    """Whether the shared-memory file system can hold ``nbytes`` with a margin (a container's
    64 MB ``/dev/shm`` cannot hold a city's matrices: writing past it kills the process)."""
    if not os.path.isdir(_SHM_DIR):
        return sys.platform != "linux"  # other platforms back segments differently
    st = os.statvfs(_SHM_DIR)
    return st.f_bavail * st.f_frsize >= 2 * nbytes


def share(obj: object, arrays: list[np.ndarray], *, min_bytes: int = 1 << 20) -> Shared:
    """``obj`` pickled with each of ``arrays`` (at least ``min_bytes``) in its own segment."""
    big = [a for a in arrays if isinstance(a, np.ndarray) and a.nbytes >= min_bytes]
    segments: list[shared_memory.SharedMemory] = []
    refs: dict[int, tuple[str, str, tuple[int, ...], str]] = {}
    if big and _room(sum(a.nbytes for a in big)):
        try:
            for a in big:
                seg = shared_memory.SharedMemory(create=True, size=max(a.nbytes, 1))
                segments.append(seg)
                np.ndarray(a.shape, dtype=a.dtype, buffer=seg.buf)[...] = a
                refs[id(a)] = ("nearstock-shm", seg.name, tuple(a.shape), a.dtype.str)
        except OSError:
            Shared(b"", segments).close()
            segments, refs = [], {}
    buf = io.BytesIO()
    try:
        _Pickler(buf, refs).dump(obj)
    except BaseException:
        Shared(b"", segments).close()
        raise
    return Shared(buf.getvalue(), segments)


def attach(payload: bytes) -> Any:  # noqa: ANN401 - whatever was shared
    """The object :func:`share` pickled, its shared arrays as read-only views (kept attached
    for the life of this process)."""
    return _Unpickler(io.BytesIO(payload)).load()


__all__ = ["Shared", "attach", "share"]
