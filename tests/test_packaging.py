"""Packaging: what the code imports is what pyproject.toml declares, and the lock agrees.

A plain ``pip install nearstock`` must give a working command line: every third-party import
under ``engine/`` is either a declared dependency or belongs to an extra and is then guarded by
``try/except ImportError`` with a message naming that extra. Every range stops below the next
major release, and ``requirements.lock`` pins each declared package inside its range.
"""

from __future__ import annotations

import ast
import importlib.metadata as md
import os
import re
import subprocess
import sys
import textwrap
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
LOCK = ROOT / "requirements.lock"
OUR_NAME = "nearstock"


def _norm(name: str) -> str:
    """A distribution name in PEP 503 form (``tomli_w`` and ``Tomli-W`` are one package)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirements(kind: str) -> list[Requirement]:
    """``kind`` is ``"core"`` for [project].dependencies, else the name of an extra."""
    project = PYPROJECT["project"]
    raw = project["dependencies"] if kind == "core" else project["optional-dependencies"][kind]
    return [Requirement(r) for r in raw]


def _extras() -> list[str]:
    return sorted(PYPROJECT["project"].get("optional-dependencies", {}))


def _provided(reqs: Iterable[Requirement]) -> set[str]:
    """Distributions a list of requirements brings in by name, plus what their own extras add."""
    out: set[str] = set()
    for req in reqs:
        out.add(_norm(req.name))
        if not req.extras:
            continue
        try:
            inner = md.requires(req.name) or []
        except md.PackageNotFoundError:
            continue
        for line in inner:
            sub = Requirement(line)
            if sub.marker is not None and any(sub.marker.evaluate({"extra": e}) for e in req.extras):
                out.add(_norm(sub.name))
    return out


# --- the import scanner --------------------------------------------------------------------


@dataclass(frozen=True)
class Import:
    """One absolute import of a module outside the standard library and the project."""

    path: Path
    line: int
    column: int
    module: str  # the top-level name, e.g. ``dask`` for ``from dask.distributed import Client``
    guard: str | None  # text of the ``except ImportError`` handler around it, if any

    def where(self) -> str:
        return f"{self.path}, line {self.line}, column {self.column}"


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    kinds = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(isinstance(k, ast.Name) and k.id in {"ImportError", "ModuleNotFoundError"}
               for k in kinds)


def _guard_text(node: ast.AST, parents: Mapping[ast.AST, ast.AST]) -> str | None:
    """The string constants of the nearest ``except ImportError`` whose ``try`` holds ``node``."""
    child, parent = node, parents.get(node)
    while parent is not None:
        if isinstance(parent, ast.Try) and child in parent.body:
            texts = [
                c.value
                for h in parent.handlers if _catches_import_error(h)
                for c in ast.walk(h) if isinstance(c, ast.Constant) and isinstance(c.value, str)
            ]
            if any(_catches_import_error(h) for h in parent.handlers):
                return " ".join(texts)
        child, parent = parent, parents.get(parent)
    return None


def _imported_names(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        return [node.module]
    # importlib.import_module("literal") counts too; computed names cannot be checked statically
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr == "import_module" and node.args
            and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
        return [node.args[0].value]
    return []


def scan_imports(files: Iterable[Path], first_party: set[str]) -> list[Import]:
    """Every third-party import in ``files``, module level or inside functions."""
    found: list[Import] = []
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        for node in ast.walk(tree):
            for name in _imported_names(node):
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top in first_party:
                    continue
                found.append(Import(path, node.lineno, node.col_offset + 1, top,
                                    _guard_text(node, parents)))
    return found


def undeclared(imports: Iterable[Import], core: set[str], extras: Mapping[str, set[str]],
               dists: Mapping[str, list[str]]) -> list[str]:
    """One message per import that a plain install would not satisfy.

    ``core`` and ``extras`` hold normalised distribution names; ``dists`` maps an import name to
    the distributions that provide it (as ``importlib.metadata.packages_distributions()``).
    """
    problems: list[str] = []
    for imp in imports:
        provided_by = {_norm(d) for d in dists.get(imp.module, [])}
        if not provided_by:
            problems.append(f"{imp.where()}: imports {imp.module!r}, which no installed "
                            "distribution provides; declare it in pyproject.toml")
            continue
        if provided_by & core:
            continue
        owners = sorted(e for e, names in extras.items() if provided_by & names)
        if not owners:
            problems.append(f"{imp.where()}: imports {imp.module!r} (distribution "
                            f"{', '.join(sorted(provided_by))}), which is not in "
                            "[project].dependencies")
        elif not any(f"{OUR_NAME}[{e}]" in (imp.guard or "") for e in owners):
            hint = f"pip install '{OUR_NAME}[{owners[0]}]'"
            problems.append(f"{imp.where()}: {imp.module!r} comes only with the extra "
                            f"{'/'.join(owners)}: wrap the import in try/except ImportError "
                            f"whose message says {hint}")
    return problems


def _python_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


def _first_party() -> set[str]:
    names = {p.name for p in ROOT.iterdir() if p.is_dir() and not p.name.startswith(".")}
    return names | {p.stem for p in ROOT.glob("*.py")}


def _declared(kinds: Iterable[str]) -> set[str]:
    return _provided(r for k in kinds for r in _requirements(k))


# --- the checks ----------------------------------------------------------------------------


def test_every_engine_import_is_declared_or_guarded_by_its_extra() -> None:
    imports = scan_imports(_python_files(ROOT / "engine"), _first_party())
    assert {i.module for i in imports} >= {"numpy", "pandas", "typer", "ortools"}  # scanner works
    extras = {e: _declared([e]) for e in _extras() if e != "test"}
    problems = undeclared(imports, _declared(["core"]), extras, md.packages_distributions())
    assert not problems, "\n".join(problems)


def test_every_test_import_is_declared_for_the_test_extra() -> None:
    imports = scan_imports(_python_files(ROOT / "tests"), _first_party())
    assert {i.module for i in imports} >= {"pytest", "hypothesis"}
    problems = undeclared(imports, _declared(["core", "test"]), {}, md.packages_distributions())
    assert not problems, "\n".join(problems)


def test_scanner_names_file_line_and_the_extra(tmp_path: Path) -> None:
    src = tmp_path / "mod.py"
    src.write_text(textwrap.dedent("""\
        import typer
        import click


        def plain():
            from dask.distributed import Client
            return Client


        def guarded():
            try:
                from dask.distributed import Client
            except ImportError:
                raise RuntimeError("needs dask: pip install 'nearstock[dask]'") from None
            return Client


        def wrong_guard():
            try:
                import dask
            except ValueError:
                raise RuntimeError("pip install 'nearstock[dask]'") from None
            return dask


        def computed():
            import importlib
            return importlib.import_module("missing_thing.sub")
        """))
    imports = scan_imports([src], first_party=set())
    assert [(i.module, i.line) for i in imports] == [
        ("typer", 1), ("click", 2), ("dask", 6), ("dask", 12), ("dask", 20), ("missing_thing", 28)]
    dists = {"typer": ["typer"], "click": ["click"], "dask": ["dask"]}
    problems = undeclared(imports, {"typer"}, {"dask": {"dask"}}, dists)
    assert len(problems) == 4, problems
    click_msg, plain_msg, wrong_msg, missing_msg = problems
    assert click_msg.startswith(f"{src}, line 2, column 1: imports 'click'")
    assert "not in [project].dependencies" in click_msg
    assert "line 6" in plain_msg and "pip install 'nearstock[dask]'" in plain_msg
    assert "line 20" in wrong_msg
    assert "'missing_thing', which no installed distribution provides" in missing_msg
    # declaring click as a dependency makes its import fine; the dask ones stay as they are
    assert len(undeclared(imports, {"typer", "click"}, {"dask": {"dask"}}, dists)) == 3


def test_every_range_stops_below_the_next_major() -> None:
    unbounded = [
        f"{kind}: {req}"
        for kind in ["core", *_extras()]
        for req in _requirements(kind)
        if not any(s.operator in {"<", "<=", "==", "~=", "==="} for s in req.specifier)
    ]
    assert not unbounded, "requirements without an upper bound:\n" + "\n".join(unbounded)


def _lock_pins() -> dict[str, Version]:
    pins: dict[str, Version] = {}
    for number, raw in enumerate(LOCK.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        m = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([0-9][^\s;]*)", line)
        assert m, f"{LOCK.name}, line {number}: expected 'name==version', got {raw!r}"
        assert _norm(m[1]) not in pins, f"{LOCK.name}, line {number}: {m[1]} pinned twice"
        pins[_norm(m[1])] = Version(m[2])
    return pins


def test_lock_pins_every_declared_package_inside_its_range() -> None:
    pins = _lock_pins()
    assert OUR_NAME not in pins
    wrong = []
    for kind in ["core", *_extras()]:
        for req in _requirements(kind):
            got = pins.get(_norm(req.name))
            if got is None:
                wrong.append(f"{kind}: {req.name} is not in {LOCK.name}")
            elif not req.specifier.contains(got, prereleases=True):
                wrong.append(f"{kind}: {LOCK.name} pins {req.name}=={got}, outside {req.specifier}")
    for kind in ["core", *_extras()]:
        reqs = _requirements(kind)
        for dist in sorted(_provided(reqs) - {_norm(r.name) for r in reqs}):
            if dist not in pins:  # e.g. distributed, which dask[distributed] brings
                wrong.append(f"{kind}: {dist} (from a requirement's extra) is not in {LOCK.name}")
    assert not wrong, "\n".join(wrong) + "\nrun `make lock`"


def test_installed_versions_are_the_locked_ones() -> None:
    """The suite runs on exactly what the lock says (make installs from it)."""
    differ = []
    for name, pinned in sorted(_lock_pins().items()):
        try:
            installed = Version(md.version(name))
        except md.PackageNotFoundError:
            continue  # e.g. an install without the dask extra
        if installed != pinned:
            differ.append(f"{name}: installed {installed}, locked {pinned}")
    assert not differ, "\n".join(differ) + "\nthe environment is not the locked one: run `make`"


# Run in a fresh interpreter where click, dask and distributed cannot be imported: a plain
# install of nearstock with typer >= 0.29 has neither.
_WITHOUT_EXTRAS = textwrap.dedent("""\
    import importlib, importlib.abc, pkgutil, sys

    BLOCKED = {"click", "dask", "distributed"}

    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {name!r} (blocked)", name=name)
            return None

    sys.meta_path.insert(0, Block())
    import engine
    from engine.errors import ConfigError
    modules = [m.name for m in pkgutil.walk_packages(engine.__path__, "engine.")]
    for name in modules:
        importlib.import_module(name)
    from engine.bench.executors import dask_map, fan_out
    for call in (lambda: fan_out(abs, [1], cluster="local:1"),
                 lambda: list(dask_map([], "local:1"))):
        try:
            call()
        except ConfigError as exc:
            print("guard:", exc)
    print("modules:", len(modules))
    from engine.cli import main
    sys.argv = ["nearstock", "--help"]
    main()
    """)


def test_cli_and_every_module_work_without_click_and_dask() -> None:
    typer_needs = [Requirement(r) for r in md.requires("typer") or []]
    if any(_norm(r.name) == "click" and r.marker is None for r in typer_needs):
        pytest.skip("this typer depends on click itself")
    proc = subprocess.run([sys.executable, "-c", _WITHOUT_EXTRAS], capture_output=True, text=True,
                          cwd=ROOT, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "100"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    guards = [ln for ln in lines if ln.startswith("guard:")]
    assert len(guards) == 2 and all("pip install 'nearstock[dask]'" in g for g in guards), lines
    assert int(next(ln for ln in lines if ln.startswith("modules:")).split()[1]) > 20
    assert "Usage: nearstock" in proc.stdout
    assert "run" in proc.stdout and "validate" in proc.stdout
