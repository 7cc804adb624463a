"""Architecture rules, checked by reading the source with ``ast`` (nothing is imported).

The import graph holds every absolute and relative ``import x`` / ``from x import y`` in
the modules under src/barecount, at module level or inside functions. Rules:

1. No Prefect in ``barecount.manifest`` or ``barecount.governance``: none of their modules
   may import ``prefect`` itself (at module level or inside a function), nor import a
   barecount module that loads Prefect through a chain of module-level imports. Importing
   ``barecount.a.b`` runs ``barecount/__init__.py`` and ``barecount/a/__init__.py`` first,
   so a chain may pass through a package's ``__init__``; that includes the public SDK
   facade ``barecount/__init__.py``, which every barecount module loads.
2. No database layer in ``barecount.manifest``: the same rule for ``sqlmodel`` and
   ``sqlalchemy``.
3. No import cycle between packages. Modules collapse to their first-level package
   (``barecount.runtime.gate`` -> ``runtime``); top-level modules (``barecount.errors``,
   ``barecount.status``, ...) are their own nodes. The facade ``barecount/__init__.py``
   is left out: it re-exports from several packages by design and nothing in the package
   should import it. Only module-level imports count: an import inside a function is a
   deliberate lazy import, run when the function is called, after every module loaded.
4. Size: no module over 300 lines and no function or method over 60 lines
   (``end_lineno - lineno + 1``, docstring included). ``src/barecount/examples/`` is
   exempt: it is the finance example's stage code and SQL, kept whole so it reads as one
   example.

Imports under ``if TYPE_CHECKING:`` never run, so no rule counts them (the ``else:``
branch runs and does count). Dynamic imports (``importlib.import_module``) are invisible
to this test.
"""

from __future__ import annotations

import ast
import functools
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
ROOT_PACKAGE = "barecount"
MAX_MODULE_LINES = 300
MAX_FUNCTION_LINES = 60
# examples; migrations are generated and frozen once released
SIZE_EXEMPT = ("barecount/examples/", "barecount/ledger/migrations/versions/")


@dataclass(frozen=True)
class Import:
    target: str  # a module of the tree, or an external dotted name such as prefect.flows
    line: int
    module_level: bool  # False inside a function body: a deliberate lazy import


@dataclass
class Module:
    name: str
    path: Path
    is_package: bool
    tree: ast.Module
    imports: list[Import] = field(default_factory=list)


# ---- reading the tree ----------------------------------------------------------------


def load_modules(src: Path, root: str = ROOT_PACKAGE) -> dict[str, Module]:
    """Every module of package ``root`` under ``src``, with its runtime imports resolved."""
    modules: dict[str, Module] = {}
    for path in sorted((src / root).rglob("*.py")):
        parts = path.relative_to(src).with_suffix("").parts
        is_package = parts[-1] == "__init__"
        name = ".".join(parts[:-1] if is_package else parts)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        modules[name] = Module(name, path, is_package, tree)
    for module in modules.values():
        module.imports = list(_imports(module, module.tree.body, False, modules))
    return modules


def _imports(
    module: Module, nodes: Iterable[ast.AST], in_function: bool, known: dict[str, Module]
) -> Iterator[Import]:
    for node in nodes:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from _imports(module, node.orelse, in_function, known)  # the body never runs
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield from _imports(module, ast.iter_child_nodes(node), True, known)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(alias.name, node.lineno, not in_function)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(module, node)
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                target = submodule if submodule in known else base
                yield Import(target, node.lineno, not in_function)
        else:
            yield from _imports(module, ast.iter_child_nodes(node), in_function, known)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _absolute(module: Module, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    package = module.name.split(".")
    if not module.is_package:
        package = package[:-1]
    package = package[: len(package) - (node.level - 1)]
    return ".".join([*package, *([node.module] if node.module else [])])


# ---- rules 1 and 2: forbidden dependencies -------------------------------------------


def _parent(name: str, modules: dict[str, Module]) -> str | None:
    parent = name.rpartition(".")[0]
    return parent if parent in modules else None


def _steps(
    name: str, modules: dict[str, Module], *, lazy_too: bool
) -> Iterator[tuple[str, int | None]]:
    """(target, line or None) a module loads: its imports, and its package's ``__init__``."""
    parent = _parent(name, modules)
    if parent is not None:
        yield parent, None
    for imp in modules[name].imports:
        if imp.module_level or lazy_too:
            yield imp.target, imp.line


def _matches(target: str, externals: tuple[str, ...]) -> bool:
    return any(target == e or target.startswith(f"{e}.") for e in externals)


def forbidden_chain(
    start: str, modules: dict[str, Module], externals: tuple[str, ...]
) -> list[tuple[str, int | None, str]] | None:
    """The shortest import chain from ``start`` to one of ``externals``, as hops
    (importer, line, imported); None when there is none.

    ``start``'s own lazy imports count; past the first hop only module-level imports do,
    since those are what loading a module runs.
    """
    came_from: dict[str, tuple[str, int | None, str]] = {}
    queue = deque([start])
    seen = {start}
    while queue:
        name = queue.popleft()
        for target, line in _steps(name, modules, lazy_too=name == start):
            hop = (name, line, target)
            if _matches(target, externals):
                chain = [hop]
                while chain[0][0] != start:
                    chain.insert(0, came_from[chain[0][0]])
                return chain
            if target in modules and target not in seen:
                seen.add(target)
                came_from[target] = hop
                queue.append(target)
    return None


def forbidden_imports(
    modules: dict[str, Module], packages: tuple[str, ...], externals: tuple[str, ...]
) -> list[str]:
    """One message per module of ``packages`` that loads one of ``externals``."""
    problems = []
    for name in sorted(modules):
        if not _matches(name, packages):
            continue
        chain = forbidden_chain(name, modules, externals)
        if chain is None:
            continue
        path = " -> ".join([name, *(target for _, _, target in chain)])
        lines = [f"{name} loads {chain[-1][2]}: {path}"]
        for importer, line, target in chain:
            if line is None:
                lines.append(f"    {importer}: its package {target} (__init__) runs first")
            else:
                lines.append(f"    {importer}, line {line}: imports {target}")
        problems.append("\n".join(lines))
    return problems


# ---- rule 3: cycles between packages -------------------------------------------------


def package_of(name: str, root: str = ROOT_PACKAGE) -> str | None:
    """``runtime`` for ``barecount.runtime.gate``, ``errors`` for ``barecount.errors``."""
    parts = name.split(".")
    if parts[0] != root or len(parts) < 2:
        return None  # outside the tree, or the facade itself
    return parts[1]


def package_edges(modules: dict[str, Module]) -> dict[tuple[str, str], str]:
    """Module-level dependencies between packages, each with the first import behind it."""
    edges: dict[tuple[str, str], str] = {}
    for name in sorted(modules):
        source = package_of(name)
        for imp in modules[name].imports:
            target = package_of(imp.target)
            if not imp.module_level or source is None or target is None or source == target:
                continue
            edges.setdefault((source, target), f"{name}, line {imp.line}: imports {imp.target}")
    return edges


def _components(nodes: set[str], edges: Iterable[tuple[str, str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan), sorted."""
    graph: dict[str, list[str]] = {n: [] for n in nodes}
    for a, b in edges:
        graph[a].append(b)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def package_cycles(modules: dict[str, Module]) -> list[str]:
    """One message per group of packages that import each other in a cycle: the group,
    its shortest cycle through the first package, and every import between its packages.
    """
    edges = package_edges(modules)
    nodes = {n for edge in edges for n in edge}
    problems = []
    for component in _components(nodes, edges):
        inside = {(a, b): why for (a, b), why in edges.items() if {a, b} <= set(component)}
        loop = " -> ".join(_shortest_cycle(component[0], inside))
        details = [f"    {a} -> {b} ({why})" for (a, b), why in sorted(inside.items())]
        problems.append(
            f"import cycle between packages {', '.join(component)}: {loop}\n" + "\n".join(details)
        )
    return problems


def _shortest_cycle(start: str, edges: Iterable[tuple[str, str]]) -> list[str]:
    """``[start, ..., start]``: the shortest way around back to ``start``."""
    came_from: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for a, b in sorted(edges):
            if a != node:
                continue
            if b == start:
                path = [node]
                while path[0] != start:
                    path.insert(0, came_from[path[0]])
                return [*path, start]
            if b not in came_from:
                came_from[b] = node
                queue.append(b)
    raise AssertionError(f"{start} is on no cycle")


# ---- rule 4: sizes -------------------------------------------------------------------


def oversized(
    modules: dict[str, Module],
    src: Path,
    *,
    max_module: int = MAX_MODULE_LINES,
    max_function: int = MAX_FUNCTION_LINES,
    exempt: tuple[str, ...] = SIZE_EXEMPT,
) -> list[str]:
    """Every module over ``max_module`` lines and function over ``max_function`` lines."""
    problems = []
    for module in sorted(modules.values(), key=lambda m: m.path):
        where = module.path.relative_to(src).as_posix()
        if where.startswith(exempt):
            continue
        length = len(module.path.read_text(encoding="utf-8").splitlines())
        if length > max_module:
            problems.append(f"src/{where}: module has {length} lines (limit {max_module})")
        for qualname, node in _functions(module.tree.body, ""):
            length = node.end_lineno - node.lineno + 1
            if length > max_function:
                problems.append(
                    f"src/{where}:{node.lineno}: function {qualname} has {length} lines "
                    f"(limit {max_function})"
                )
    return problems


def _functions(nodes: Iterable[ast.AST], prefix: str) -> Iterator[tuple[str, ast.AST]]:
    for node in nodes:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            qualname = f"{prefix}{node.name}"
            if not isinstance(node, ast.ClassDef):
                yield qualname, node
            yield from _functions(ast.iter_child_nodes(node), f"{qualname}.")
        else:
            yield from _functions(ast.iter_child_nodes(node), prefix)


# ---- the rules on the real source ----------------------------------------------------

PREFECT = ("prefect",)
DATABASE = ("sqlmodel", "sqlalchemy")
NO_PREFECT = ("barecount.manifest", "barecount.governance")
NO_DATABASE = ("barecount.manifest",)


@functools.cache
def _real() -> dict[str, Module]:
    modules = load_modules(SRC)
    # guard against passing vacuously on an empty or misread tree
    assert {"barecount.manifest.models", "barecount.governance.drift"} <= modules.keys()
    assert any(_matches(i.target, PREFECT) for m in modules.values() for i in m.imports)
    return modules


def _report(title: str, problems: list[str]) -> str:
    return f"{title} ({len(problems)}):\n" + "\n".join(problems)


def test_manifest_and_governance_do_not_load_prefect() -> None:
    problems = forbidden_imports(_real(), NO_PREFECT, PREFECT)
    assert not problems, _report("modules that must not load Prefect do", problems)


def test_manifest_does_not_load_the_database_layer() -> None:
    problems = forbidden_imports(_real(), NO_DATABASE, DATABASE)
    assert not problems, _report("barecount.manifest loads SQLModel/SQLAlchemy", problems)


def test_no_import_cycles_between_packages() -> None:
    problems = package_cycles(_real())
    assert not problems, _report("import cycles between packages", problems)


def test_modules_and_functions_stay_small() -> None:
    problems = oversized(_real(), SRC)
    assert not problems, _report("oversized modules and functions", problems)


# ---- the checkers catch what they should (so the rules cannot pass vacuously) --------


def _write(src: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = src / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_checkers_catch_violations(tmp_path: Path) -> None:
    long_body = "".join(f"    x{i} = {i}\n" for i in range(60))
    _write(
        tmp_path,
        {
            "barecount/__init__.py": "from barecount.errors import BareCountError\n",
            "barecount/errors.py": "",
            "barecount/governance/__init__.py": "",
            # loads Prefect through runtime.flows, inside a function
            "barecount/governance/bad.py": "def f():\n    from barecount.runtime import flows\n",
            # type-only imports never run: no Prefect, and no cycle governance <-> runtime
            "barecount/governance/typed.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n"
                "    import prefect\n"
                "    from barecount.runtime import flows\n"
                "else:\n"
                "    import json\n"
            ),
            # a lazy import: no cycle alerts <-> runtime
            "barecount/alerts/__init__.py": "",
            "barecount/alerts/policy.py": "def f():\n    from barecount.runtime import flows\n",
            "barecount/manifest/__init__.py": "",
            "barecount/manifest/db.py": "import json\nfrom sqlmodel import Session\n",
            "barecount/manifest/clean.py": "from barecount import errors\n",
            "barecount/runtime/__init__.py": "",
            "barecount/runtime/flows.py": (
                "import prefect.flows\n"
                "from barecount.ledger.store import save\n"
                "from barecount.alerts import policy\n"
                "from barecount.governance import typed\n"
            ),
            "barecount/ledger/__init__.py": "",
            "barecount/ledger/store.py": "from ..runtime import flows\n",  # relative: a cycle
            "barecount/big.py": "def big():\n" + long_body + "\n" * 240,
            "barecount/examples/huge.py": "def huge():\n" + long_body,
        },
    )
    modules = load_modules(tmp_path)

    prefect = forbidden_imports(modules, NO_PREFECT, PREFECT)
    assert len(prefect) == 1, prefect
    assert prefect[0].startswith(
        "barecount.governance.bad loads prefect.flows: barecount.governance.bad -> "
        "barecount.runtime.flows -> prefect.flows"
    )
    assert "barecount.governance.bad, line 2: imports barecount.runtime.flows" in prefect[0]

    database = forbidden_imports(modules, NO_DATABASE, DATABASE)
    assert [p.splitlines()[0] for p in database] == [
        "barecount.manifest.db loads sqlmodel: barecount.manifest.db -> sqlmodel"
    ]

    cycles = package_cycles(modules)
    assert len(cycles) == 1, cycles
    assert cycles[0].startswith(
        "import cycle between packages ledger, runtime: ledger -> runtime -> ledger\n"
    )
    assert "runtime -> ledger (barecount.runtime.flows, line 2" in cycles[0]
    assert "ledger -> runtime (barecount.ledger.store, line 1" in cycles[0]

    sizes = oversized(modules, tmp_path)
    assert sizes == [
        "src/barecount/big.py: module has 301 lines (limit 300)",
        "src/barecount/big.py:1: function big has 61 lines (limit 60)",
    ]


def test_package_init_runs_before_its_modules(tmp_path: Path) -> None:
    """A chain through a package's ``__init__`` counts: loading a submodule runs it."""
    _write(
        tmp_path,
        {
            "barecount/__init__.py": "from barecount.runtime.stage import Context\n",
            "barecount/runtime/__init__.py": "",
            "barecount/runtime/stage.py": "from prefect import task\n",
            "barecount/manifest/__init__.py": "",
            "barecount/manifest/models.py": "import re\n",
        },
    )
    problems = forbidden_imports(load_modules(tmp_path), NO_PREFECT, PREFECT)
    assert [p.splitlines()[0] for p in problems] == [
        "barecount.manifest loads prefect: barecount.manifest -> barecount -> "
        "barecount.runtime.stage -> prefect",
        "barecount.manifest.models loads prefect: barecount.manifest.models -> "
        "barecount.manifest -> barecount -> barecount.runtime.stage -> prefect",
    ]
