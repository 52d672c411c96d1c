"""The import graph of the project: no cycles, and the apps stand in layers (STYLE.md).

The graph is read from the source (the AST of every module of the app packages), not from
what Python happened to import, so a cycle hidden behind an import inside a function is
found too: imports inside function bodies are allowed only in Celery tasks modules (the
HackSoft convention: a service imports its task at module level, the task imports the service
inside its body) and in the places listed in FUNCTION_LEVEL_IMPORTS with their reason.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = (
    "settings",
    "helpdesk",
    "availability",
    "channels",
    "live",
    "labels",
    "sla",
    "messenger",
    "tickets",
    "csat",
    "canned",
    "home",
    "reports",
    "outgoing",
    "privacy",
    "contacts",
)
# helpdesk ← availability ← channels ← live ← labels ← sla ← messenger ← tickets ← csat ← canned ← home ← reports
# ← outgoing ← privacy ← contacts:
# a module imports its own app and those below it
# (home, the home page, reads all of them).
# `settings` is read by Django through django.conf and imports nothing of the apps.
LAYERS = {
    "settings": 0,
    "helpdesk": 1,
    "availability": 2,
    "channels": 3,
    "live": 4,
    "labels": 5,
    "sla": 6,
    "messenger": 7,
    "tickets": 8,
    "csat": 9,
    "canned": 10,
    "home": 11,
    "reports": 12,
    "outgoing": 13,
    "privacy": 14,
    "contacts": 15,
}
# Packages (or modules) that import nothing of the project outside themselves.
STANDALONE = {"messenger.graph"}

# (importing module, imported module) → why the import sits inside a function (an import that
# depends on settings, or a heavy optional one). Tasks modules need no entry (see the module
# docstring). The management commands import at module level.
FUNCTION_LEVEL_IMPORTS: dict[tuple[str, str], str] = {
    ("availability.apps", "availability.receivers"): (
        "connects the logout receiver in ready(): its module imports models, which cannot load before the registry"
    ),
    ("live.apps", "live.receivers"): (
        "connects the receivers of helpdesk.signals in ready(): they publish through live.publish, which "
        "reads the settings"
    ),
    ("live.apps", "helpdesk.signals"): "connects its receivers in ready(), once the apps are loaded",
    ("csat.apps", "helpdesk.signals"): "connects its receivers in ready(), once the apps are loaded",
    ("privacy.apps", "privacy.audit"): (
        "registers the audited models with django-auditlog in ready(): its module imports models, which "
        "cannot load before the registry"
    ),
    ("outgoing.apps", "helpdesk.signals"): "connects its receivers in ready(), once the apps are loaded",
    ("outgoing.apps", "outgoing.receivers"): (
        "connects the receivers of helpdesk.signals in ready(): their module imports models, which cannot "
        "load before the registry"
    ),
    ("contacts.apps", "privacy.signals"): "connects its receivers in ready(), once the apps are loaded",
    ("contacts.apps", "contacts.receivers"): (
        "connects the receivers of privacy.signals in ready(): their module imports models, which cannot "
        "load before the registry"
    ),
    ("csat.apps", "csat.receivers"): (
        "connects the receivers of helpdesk.signals in ready(): their module imports models, which cannot "
        "load before the registry"
    ),
}

# Cycles that exist today and are to be removed; the coordinator shrinks this list.
KNOWN_CYCLES: list[frozenset[str]] = []


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line: int
    in_function: bool


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    return {
        module_name(path): path
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if "migrations" not in path.parts
    }


def _is_project(name: str) -> bool:
    return name.split(".")[0] in PACKAGES


def _resolve(target: str, modules: Iterable[str]) -> str | None:
    """The longest known module that `target` names (or lies inside)."""
    known = set(modules)
    parts = target.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in known:
            return candidate
        parts.pop()
    return None


def imports_of(module: str, source: str, modules: Iterable[str], *, is_package: bool = False) -> list[Import]:
    """The project imports of one module, each marked if it sits inside a function body.

    `from package import name` is an import of `package.name` when that is a module.
    Imports under `if TYPE_CHECKING:` are left out: they never run. Relative imports in a
    package's __init__ (`is_package`) are relative to the package itself."""
    known = set(modules)
    found: list[Import] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                for orelse in child.orelse:
                    visit(orelse, in_function)
                continue
            if isinstance(child, ast.Import):
                for alias in child.names:
                    target = _resolve(alias.name, known) if _is_project(alias.name) else None
                    if target:
                        found.append(Import(module, target, child.lineno, in_function))
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    package = module.split(".") if is_package else module.split(".")[:-1]
                    package = package[: len(package) - (child.level - 1)]
                    base = ".".join([*package, base] if base else package)
                if not _is_project(base):
                    continue
                for alias in child.names:
                    target = _resolve(f"{base}.{alias.name}", known)
                    if target:
                        found.append(Import(module, target, child.lineno, in_function))
            else:
                nested = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
                visit(child, nested)

    visit(ast.parse(source), in_function=False)
    return found


def project_imports() -> list[Import]:
    modules = project_modules()
    return [
        item
        for module, path in modules.items()
        for item in imports_of(module, path.read_text(), modules, is_package=path.name == "__init__.py")
    ]


def cycles(graph: Mapping[str, Iterable[str]]) -> list[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan), and self-imports."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    counter = 0
    nodes = set(graph) | {target for targets in graph.values() for target in targets}

    def connect(node: str) -> None:
        nonlocal counter
        # An explicit stack instead of recursion: the graph has hundreds of modules.
        work = [(node, iter(graph.get(node, ())))]
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        while work:
            current, successors = work[-1]
            advanced = False
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = counter
                    counter += 1
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(graph.get(successor, ()))))
                    advanced = True
                    break
                if successor in on_stack:
                    low[current] = min(low[current], index[successor])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[current])
            if low[current] == index[current]:
                component: set[str] = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == current:
                        break
                if len(component) > 1 or current in graph.get(current, ()):
                    found.append(frozenset(component))

    for node in sorted(nodes):
        if node not in index:
            connect(node)
    return found


def module_level_graph(imports: Iterable[Import]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for item in imports:
        if not item.in_function:
            graph.setdefault(item.importer, set()).add(item.imported)
    return graph


def is_tasks_module(module: str) -> bool:
    parts = module.split(".")
    return "tasks" in parts[1:]


def is_inside(module: str, package: str) -> bool:
    return module == package or module.startswith(f"{package}.")


def standalone_package_of(module: str) -> str | None:
    return next((package for package in STANDALONE if is_inside(module, package)), None)


def layering_violations(imports: Iterable[Import]) -> list[str]:
    wrong = []
    for item in imports:
        importer_app, imported_app = item.importer.split(".")[0], item.imported.split(".")[0]
        standalone = standalone_package_of(item.importer)
        if standalone is not None and not is_inside(item.imported, standalone):
            wrong.append(f"{item.importer}:{item.line} imports {item.imported} (it imports nothing of the project)")
        elif LAYERS[imported_app] > LAYERS[importer_app]:
            wrong.append(f"{item.importer}:{item.line} imports {item.imported}, a layer above it")
    return wrong


# --- The tests of the test -----------------------------------------------------------------


def test_a_cycle_between_three_modules_is_reported() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}

    assert cycles(graph) == [frozenset({"a", "b", "c"})]


def test_a_graph_without_cycles_reports_none() -> None:
    assert cycles({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == []


def test_an_import_inside_a_function_is_marked_and_left_out_of_the_cycle_graph() -> None:
    modules = ["messenger.a", "messenger.b"]
    source = "from messenger import b\n\ndef f():\n    from messenger.a import x\n"

    found = imports_of("messenger.b", source, modules)

    assert found == [Import("messenger.b", "messenger.b", 1, False), Import("messenger.b", "messenger.a", 4, True)]
    assert module_level_graph(found[1:]) == {}


def test_an_import_of_a_higher_layer_is_reported() -> None:
    found = imports_of("channels.x", "from tickets import services\n", ["tickets.services", "channels.x"])

    assert layering_violations(found) == ["channels.x:1 imports tickets.services, a layer above it"]


def test_a_standalone_package_may_import_its_own_modules_and_nothing_else_of_the_project() -> None:
    modules = ["messenger.graph", "messenger.graph.client", "messenger.graph.errors", "messenger.models"]
    source = "from messenger.graph.errors import GraphError\nfrom messenger import models\n"

    found = imports_of("messenger.graph.client", source, modules)

    assert layering_violations(found) == [
        "messenger.graph.client:2 imports messenger.models (it imports nothing of the project)"
    ]


def test_a_module_merely_named_like_a_standalone_package_is_not_inside_it() -> None:
    found = imports_of("messenger.graph_views", "from messenger import models\n", ["messenger.models"])

    assert layering_violations(found) == []


# --- The project ---------------------------------------------------------------------------


def test_the_project_has_no_import_cycles_between_modules() -> None:
    found = cycles(module_level_graph(project_imports()))

    unknown = [sorted(component) for component in found if component not in KNOWN_CYCLES]
    assert unknown == []


def test_the_known_cycles_still_exist_so_the_list_only_shrinks() -> None:
    found = cycles(module_level_graph(project_imports()))

    assert [sorted(component) for component in KNOWN_CYCLES if component not in found] == []


def test_imports_inside_functions_are_only_those_of_tasks_or_listed_with_a_reason() -> None:
    hidden = [
        f"{item.importer}:{item.line} imports {item.imported}"
        for item in project_imports()
        if item.in_function
        and not is_tasks_module(item.importer)
        and (item.importer, item.imported) not in FUNCTION_LEVEL_IMPORTS
    ]

    assert hidden == []


def test_every_listed_function_level_import_still_exists_so_the_list_only_shrinks() -> None:
    found = {(item.importer, item.imported) for item in project_imports() if item.in_function}

    assert sorted(set(FUNCTION_LEVEL_IMPORTS) - found) == []


def test_every_app_imports_only_itself_and_the_layers_below() -> None:
    assert layering_violations(project_imports()) == []
