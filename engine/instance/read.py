"""Load, validate and write instance directories.

``load_instance`` gives either a complete validated :class:`Instance` or raises
:class:`~engine.errors.InstanceError` listing every problem found; nothing is half-loaded.
``write_instance`` writes into a temporary directory and moves it into place.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import tomli_w

from engine.errors import EngineError, InstanceError, Issue
from engine.instance.manifest import MANIFEST, Manifest, parse_manifest, table_path_problem
from engine.instance.model import Instance
from engine.instance.roads import check_roads
from engine.instance.schema import TABLE_BY_NAME, TABLES, Table
from engine.instance.tables import IssueLog, check_table, read_raw
from engine.io import atomic_dir, write_frame


def table_file(manifest_tables: dict[str, str], spec: Table) -> str:
    return manifest_tables.get(spec.name, spec.default_file)


def validate_instance(path: str | Path) -> list[Issue]:
    """Every problem of the instance at ``path`` (empty list = valid); never raises for bad input."""
    try:
        load_instance(path)
    except InstanceError as exc:
        return list(exc.issues)
    except EngineError as exc:  # any other input problem becomes one issue of the instance
        return [Issue(str(path), None, None, "invalid", str(exc))]
    return []


def load_instance(path: str | Path) -> Instance:
    """Read and validate an instance directory."""
    root = Path(path)
    log = IssueLog()
    if not root.is_dir():
        raise InstanceError(str(root), [Issue(str(root), None, None, "not_a_directory",
                                              "expected an instance directory holding instance.toml and CSV tables")])
    manifest_path = root / MANIFEST
    data: dict = {}
    if not manifest_path.is_file():
        log.add(MANIFEST, None, None, "missing_file", "instance.toml is missing: every instance needs its manifest")
    else:
        try:
            data = tomllib.loads(manifest_path.read_text(encoding="utf-8-sig"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            log.add(MANIFEST, None, None, "unreadable", f"not valid UTF-8 TOML: {exc}")
        except OSError as exc:
            log.add(MANIFEST, None, None, "unreadable", f"cannot be read: {exc.strerror or exc}")
    manifest_issues: list[Issue] = []
    manifest = parse_manifest(data, manifest_issues, {t.name for t in TABLES}) if data else None
    for i in manifest_issues:
        log.add(i.file, i.row, i.column, i.code, i.message)

    tables_map, unsafe = _table_files(data)
    root_real = _resolve(root)
    frames: dict[str, pd.DataFrame | None] = {}
    for spec in TABLES:
        if spec.name in unsafe:  # reported by the manifest check; never opened
            frames[spec.name] = None
            continue
        fname = table_file(tables_map, spec)
        fpath = root / fname
        outside = _outside(fpath, root_real)
        if outside is not None:
            key = f"tables.{spec.name}" if spec.name in tables_map else None
            log.add(MANIFEST if key else fname, None, key, "outside_instance",
                    f"the table file {fname!r} {outside}; table files must stay inside the instance directory")
            frames[spec.name] = None
            continue
        if not fpath.is_file():
            if spec.required:
                log.add(fname, None, None, "missing_file", f"required table file is missing: {spec.description.rstrip('.').lower()}")
                frames[spec.name] = None
            else:
                frames[spec.name] = _empty(spec)
            continue
        raw = read_raw(fpath, log, fname)
        frames[spec.name] = None if raw is None else check_table(raw, spec, fname, log)

    _cross_checks(frames, manifest, tables_map, log)
    issues = log.finish()
    if issues or manifest is None or any(f is None for f in frames.values()):
        raise InstanceError(str(root), issues or [Issue(MANIFEST, None, None, "invalid", "instance could not be loaded")])
    return Instance(manifest=manifest, path=root, **{k: v for k, v in frames.items()})  # type: ignore[arg-type]


def _table_files(data: dict) -> tuple[dict[str, str], set[str]]:
    """The manifest's ``[tables]`` entries that are safe to open, and the tables whose entry is not."""
    raw = data.get("tables", {})
    if not isinstance(raw, dict):
        return {}, set()
    safe = {t: f for t, f in raw.items() if t in TABLE_BY_NAME and table_path_problem(f) is None}
    return safe, {t for t in raw if t in TABLE_BY_NAME and t not in safe}


def _resolve(path: Path) -> Path | None:
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # a symbolic-link loop
        return None


def _outside(path: Path, root_real: Path | None) -> str | None:
    """Why ``path`` is not inside ``root_real`` once symbolic links are followed; ``None`` if it is."""
    real = _resolve(path)
    if real is None or root_real is None:
        return "cannot be resolved (a symbolic-link loop?)"
    if real.is_relative_to(root_real):
        return None
    return f"resolves to {real} (through a symbolic link), outside the instance directory"


def _empty(spec: Table) -> pd.DataFrame:
    dtypes = {"id": "object", "str": "object", "int": "int64", "float": "float64", "bool": "bool", "date": "datetime64[ns]"}
    return pd.DataFrame({c.name: pd.Series(dtype=dtypes[c.kind]) for c in spec.columns})


def _cross_checks(frames: dict[str, pd.DataFrame | None], manifest: Manifest | None,
                  tables_map: dict[str, str], log: IssueLog) -> None:
    def fname(name: str) -> str:
        return table_file(tables_map, next(t for t in TABLES if t.name == name))

    # references between tables
    for spec in TABLES:
        frame = frames.get(spec.name)
        if frame is None:
            continue
        for col in spec.columns:
            if not col.ref:
                continue
            ref_table, ref_col = col.ref.split(".")
            target = frames.get(ref_table)
            if target is None or (target.empty and not TABLE_BY_NAME[ref_table].required):
                continue
            known = set(target[ref_col])
            wrong = ~frame[col.name].isin(known).to_numpy() & (frame[col.name] != "").to_numpy()
            if wrong.any():
                log.add_rows(fname(spec.name), log.rows(fname(spec.name), wrong), col.name, "unknown_reference",
                             [f"{v!r} is not an id in {fname(ref_table)}" for v in frame.loc[wrong, col.name]])

    wh = frames.get("warehouses")
    if wh is not None and len(wh):
        n_central = int((wh["kind"] == "central").sum())
        if n_central != 1:
            log.add(fname("warehouses"), None, "kind", "central_count",
                    f"expected exactly one warehouse of kind 'central' (the DC), found {n_central}")
        if not (wh["kind"] == "forward").any():
            log.add(fname("warehouses"), None, "kind", "no_forward", "expected at least one warehouse of kind 'forward'")
        fleet = frames.get("fleet")
        if fleet is not None and len(fleet):
            kinds = dict(zip(wh["id"], wh["kind"], strict=True))
            wrong = (fleet["warehouse"].map(kinds) == "central").to_numpy()
            if wrong.any():
                log.add_rows(fname("fleet"), log.rows(fname("fleet"), wrong), "warehouse", "not_forward",
                             "fleet couriers are based at forward warehouses, not at the central DC")

    fleet, crowd = frames.get("fleet"), frames.get("crowd")
    if fleet is not None and crowd is not None and len(fleet) and len(crowd):
        both = crowd["id"].isin(set(fleet["id"])).to_numpy()
        if both.any():
            log.add_rows(fname("crowd"), log.rows(fname("crowd"), both), "id", "duplicate_key",
                         [f"courier id {v!r} is also used in {fname('fleet')}" for v in crowd.loc[both, "id"]])

    check_roads(frames, fname, log)

    if manifest is None:
        return
    start = pd.Timestamp(manifest.planning.start_date)
    demand = frames.get("demand")
    if demand is not None and len(demand):
        late = (demand["date"] >= start).to_numpy()
        if late.any():
            log.add_rows(fname("demand"), log.rows(fname("demand"), late), "date", "after_start",
                         f"demand history must end before planning.start_date {start.date()}")
    orders = frames.get("orders")
    if orders is not None and len(orders):
        early = (orders["date"] < start).to_numpy()
        if early.any():
            log.add_rows(fname("orders"), log.rows(fname("orders"), early), "date", "before_start",
                         f"orders are realised demand of the planning days: on or after {start.date()}")
        seg_ids = {s.id for s in manifest.segments}
        wrong = ~orders["segment"].isin(seg_ids).to_numpy()
        if wrong.any():
            log.add_rows(fname("orders"), log.rows(fname("orders"), wrong), "segment", "unknown_reference",
                         [f"{v!r} is not a segment in instance.toml (known: {', '.join(sorted(seg_ids))})"
                          for v in orders.loc[wrong, "segment"]])


def write_instance(instance: Instance, path: str | Path, *, overwrite: bool = True) -> Path:
    """Write ``instance`` as a directory (atomically: temporary directory, then move)."""
    target = Path(path)
    tables_map = dict(instance.manifest.tables)
    # a manifest built in code has not been through the loader: its table paths are checked here,
    # before anything is written, so no table can land outside the target directory
    bad = [Issue(MANIFEST, None, f"tables.{t}", *problem) for t, f in sorted(tables_map.items())
           if (problem := table_path_problem(f)) is not None]
    bad += [Issue(MANIFEST, None, f"tables.{t}", "unknown_key", "unknown table") for t in sorted(tables_map)
            if t not in TABLE_BY_NAME]
    if bad:
        raise InstanceError(str(target), bad)
    with atomic_dir(target, force=overwrite, kind="instance") as tmp:
        (tmp / MANIFEST).write_text(tomli_w.dumps(instance.manifest.to_toml_dict()), encoding="utf-8")
        for spec in TABLES:
            frame: pd.DataFrame = getattr(instance, spec.name)
            if not spec.required and frame.empty:
                continue
            dest = tmp / table_file(tables_map, spec)
            dest.parent.mkdir(parents=True, exist_ok=True)
            write_frame(format_table(frame, spec), dest)
    return target


def format_table(frame: pd.DataFrame, spec: Table) -> pd.DataFrame:
    """A copy ready for CSV: schema column order, dates as YYYY-MM-DD, flags as true/false."""
    out = pd.DataFrame(index=frame.index)
    for col in spec.columns:
        s = frame[col.name]
        if col.kind == "date":
            out[col.name] = pd.to_datetime(s).dt.strftime("%Y-%m-%d")
        elif col.kind == "bool":
            out[col.name] = np.where(s.astype(bool), "true", "false")
        elif col.kind == "float":
            # whole numbers print without ".0"; others with up to 6 decimals, deterministic
            out[col.name] = [_fmt(v) for v in s.to_numpy(dtype=float)]
        else:
            out[col.name] = s
    return out.reset_index(drop=True)


def _fmt(v: float) -> str:
    if float(v).is_integer():
        return str(int(v))
    return f"{v:.6f}".rstrip("0").rstrip(".")
