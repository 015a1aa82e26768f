"""The import graph of tracer, cad and tracecad: dependencies run one way, no cycles, no private names.

Run this file directly to print the graph: ``python tests/test_architecture.py``.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("tracer", "cad", "tracecad")
#: Which package may import which (the application -> the geometry -> the tracer).
ALLOWED = {"tracer": {"tracer"}, "cad": {"tracer", "cad"}, "tracecad": {"tracer", "cad", "tracecad"}}
#: The one exception: ``cad.__getattr__`` keeps ``cad.convert`` and friends working for one release.
SHIM = ("cad", "tracecad")
#: Modules that may be imported inside a function (start-up time or optional extras); project modules may not.
LAZY_OK = ("OCP", "cv2", "rich", "dask", "distributed", "manifold3d", "PIL", "threadpoolctl", "svgpathtools",
           "potracecffi", "fastapi", "starlette", "uvicorn", "multipart", "fontTools", "ezdxf")


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    return out


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The project module an import of ``name`` loads last (a submodule, else its package), or None."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str, path: Path) -> list[tuple[str, list[str], bool, int]]:
    """``(target module, names imported from it, inside a function?, line)`` for each project import."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = []
    is_pkg = path.name == "__init__.py"

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                for alias in child.names:
                    target = _resolve(alias.name)
                    if target:
                        out.append((target, [], in_function, child.lineno))
            elif isinstance(child, ast.ImportFrom):
                if child.level:  # relative import
                    base = module if is_pkg else module.rpartition(".")[0]
                    for _ in range(child.level - 1):
                        base = base.rpartition(".")[0]
                    src = f"{base}.{child.module}" if child.module else base
                else:
                    src = child.module or ""
                for alias in child.names:
                    sub = f"{src}.{alias.name}"
                    if sub in MODULES:  # ``from pkg import module``
                        out.append((sub, [], in_function, child.lineno))
                    else:
                        target = _resolve(src)
                        if target:
                            out.append((target, [alias.name], in_function, child.lineno))
            visit(child, inner)

    visit(tree, False)
    return out


def _lazy_third_party(path: Path) -> list[tuple[str, int]]:
    """Function-level imports of modules outside the project that are not in :data:`LAZY_OK`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for fn in ast.walk(tree):
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in ast.walk(fn):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            for n in names:
                top = n.split(".")[0]
                if top not in PACKAGES and top not in LAZY_OK:
                    found.append((n, node.lineno))
    return found


GRAPH = {m: _imports(m, p) for m, p in MODULES.items()}


def _package(module: str) -> str:
    return module.split(".")[0]


def test_packages_depend_one_way():
    bad = []
    for mod, imports in GRAPH.items():
        for target, _, _, line in imports:
            if _package(target) not in ALLOWED[_package(mod)] and (mod, _package(target)) != SHIM:
                bad.append(f"{MODULES[mod].relative_to(ROOT)}:{line} imports {target}")
    assert not bad, "\n".join(bad)


def test_no_module_imports_another_modules_private_name():
    bad = [f"{MODULES[mod].relative_to(ROOT)}:{line} imports {target}.{name}"
           for mod, imports in GRAPH.items() for target, names, _, line in imports
           for name in names if name.startswith("_") and not name.startswith("__") and target != mod]
    bad += [f"{MODULES[mod].relative_to(ROOT)}: imports the private module {target}"
            for mod, imports in GRAPH.items() for target, _, _, _ in imports
            if target.rpartition(".")[2].startswith("_") and not target.endswith("__init__")
            and target.rpartition(".")[0] != mod.rpartition(".")[0]]
    assert not bad, "\n".join(bad)


def test_no_private_attribute_of_another_project_module_is_used():
    """``module._name`` on an imported project module (``D._median``, ``products._prism``)."""
    bad = []
    for mod, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        aliases = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    if _resolve(a.name) and a.asname:
                        aliases[a.asname] = a.name
            elif isinstance(node, ast.ImportFrom) and node.module:
                for a in node.names:
                    if f"{node.module}.{a.name}" in MODULES:
                        aliases[a.asname or a.name] = f"{node.module}.{a.name}"
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases
                    and node.attr.startswith("_") and not node.attr.startswith("__")
                    and aliases[node.value.id] != mod):
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno} uses {aliases[node.value.id]}.{node.attr}")
    assert not bad, "\n".join(bad)


def _cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), over every import, lazy ones too."""
    edges = {m: sorted({t for t, _, _, _ in GRAPH[m] if t != m and (m, _package(t)) != SHIM}) for m in GRAPH}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out = []
    counter = [0]
    sys.setrecursionlimit(10_000)

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in edges:
        if v not in index:
            strong(v)
    return out


def test_no_import_cycles():
    assert _cycles() == []


def test_project_modules_are_imported_at_module_level():
    """A function-level import of a project module hides a dependency (and often a cycle)."""
    bad = [f"{MODULES[mod].relative_to(ROOT)}:{line} imports {target} inside a function"
           for mod, imports in GRAPH.items() for target, _, lazy, line in imports
           if lazy and (mod, _package(target)) != SHIM and not mod.endswith("__main__")]
    assert not bad, "\n".join(bad)


def test_only_slow_or_optional_libraries_are_imported_lazily():
    bad = [f"{path.relative_to(ROOT)}:{line} imports {name} inside a function"
           for path in MODULES.values() for name, line in _lazy_third_party(path)]
    assert not bad, "\n".join(bad)


#: Modules that hold one idea needing more than about 600 lines.
LONG_BY_NATURE = {"tracer.colors": "the colour partition of a picture: palette, mixing at edges, labels"}


@pytest.mark.parametrize("module", sorted(m for m in MODULES if not m.endswith("__main__")))
def test_each_module_is_at_most_about_600_lines(module):
    n = len(MODULES[module].read_text(encoding="utf-8").splitlines())
    assert n <= (800 if module in LONG_BY_NATURE else 650), f"{MODULES[module].relative_to(ROOT)} has {n} lines"


def main() -> None:
    """Print the import graph (module: the project modules it imports)."""
    for mod in sorted(GRAPH):
        targets = sorted({t for t, _, _, _ in GRAPH[mod] if t != mod})
        print(f"{mod}: {', '.join(targets) or '-'}")
    for comp in _cycles():
        print("CYCLE:", " <-> ".join(comp))


if __name__ == "__main__":
    main()
