"""The package's import directions, read from every module's source with ``ast`` (nothing is imported).

Imports point down, never up, and never round in a circle. The layers, from the top:

    commands   tiktok.cli, tiktok.__main__, tiktok.commands.*: the one command tree
    top        tiktok.web.*, tiktok.jobs.*: the app and the workers; neither imports the other
    client     tiktok (the package: its public names) and tiktok.client: the public Python API
    flows      tiktok.posting, tiktok.transcription, tiktok.report, tiktok.media.doctor, tiktok.media.library,
               tiktok.alerts: never each other, but the media doctor and library build on posting's media checks,
               and alerts on posting's words for a failure (BUILDS_ON); tiktok.media.store is plumbing
    services   tiktok.services: the clients and stores built from the settings
    store      tiktok.store.*: the post store
    auth       tiktok.auth.*: PKCE, OAuth, tokens
    db         tiktok.db.*: PostgreSQL connections
    plumbing   the other top-level modules (config, errors, exitcodes, options, logs, retry, ...)

A module imports its own layer and the ones below; every import counts, a function's own included (it runs as
soon as the function does). On top of that:

- No import circle, through any number of modules: each module's imports, followed, never lead back to it (and
  KNOWN_CIRCLE_EDGES is empty: none is allowed).
- The emulator imports nothing from the client: only the standard library, third-party packages and itself.
- The client may start the emulator or the AssemblyAI stand-in only from a function (emulator mode), never at
  module level, so a real run never loads it.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "tiktok"
LAYERS = ("plumbing", "db", "auth", "store", "services", "flows", "client", "top", "commands")  # bottom to top
FLOWS = ("posting", "transcription", "report", "doctor", "library", "alerts")
# (flow, flow) imports allowed one way: the doctor fixes what posting refuses; the library shows posting's checks;
# alerts tell a failure in posting's words (tiktok.posting.failures)
BUILDS_ON = {("doctor", "posting"), ("library", "posting"), ("alerts", "posting")}
APART = ("flows", "top")  # layers whose packages never import each other


@dataclass(frozen=True)
class Edge:
    source: str      # dotted module name
    target: str      # dotted module name imported
    line: int
    nested: bool     # inside a function body (or any block but the module's own)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@lru_cache(maxsize=1)
def modules() -> frozenset[str]:
    return frozenset(module_name(path) for path in PACKAGE.rglob("*.py"))


def imports_of(path: Path, source: str | None = None) -> list[Edge]:
    """Every tiktok.* import in one module, relative ones resolved; ``from package import module`` names the
    module."""
    tree = ast.parse(source if source is not None else path.read_text(), filename=str(path))
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    top_level = {id(node) for node in tree.body}
    edges = []
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules() or not node.module else base
                       for alias in node.names]
        for target in targets:
            if target == "tiktok" or target.startswith("tiktok."):
                edges.append(Edge(name, target, node.lineno, id(node) not in top_level))
    return edges


def area(module: str) -> str:
    """The package a module belongs to: a flow's name, 'store', 'auth', 'db', 'web', 'jobs', 'emulator',
    'commands', 'services', or 'plumbing' for the other top-level modules."""
    parts = module.split(".")
    if module in ("tiktok.cli", "tiktok.__main__"):
        return "commands"
    if module == "tiktok.services":
        return "services"
    if module == "tiktok.media.doctor" or module.startswith("tiktok.media.doctor."):
        return "doctor"
    if module == "tiktok.media.library":
        return "library"
    if module in ("tiktok", "tiktok.client"):
        return "client"
    if len(parts) >= 2 and parts[1] in (*FLOWS, "store", "auth", "db", "web", "jobs", "emulator", "commands"):
        return parts[1]
    return "plumbing"


def layer(module: str) -> str:
    kind = area(module)
    return "flows" if kind in FLOWS else "top" if kind in ("web", "jobs") else kind


def violation(edge: Edge) -> str | None:
    """Why ``edge`` breaks a rule, or None."""
    source, target = area(edge.source), area(edge.target)
    if source == "emulator":
        return None if target == "emulator" else "the emulator imports nothing from the client packages"
    if target == "emulator":
        return None if edge.nested else "the client may load the emulator only inside a function (emulator mode)"
    below, above = LAYERS.index(layer(edge.source)), LAYERS.index(layer(edge.target))
    if above > below:
        return f"an upward import: {layer(edge.source)} ({source}) may not import {layer(edge.target)} ({target})"
    if above == below and layer(edge.source) in APART and source != target and (source, target) not in BUILDS_ON:
        return f"{source} and {target} are apart: neither imports the other"
    return None


# The import circles the package still has, edge by edge (none: the test fails on any edge in a circle; an entry
# here would have to say why it is allowed and how it is to be broken).
KNOWN_CIRCLE_EDGES: frozenset[tuple[str, str]] = frozenset()


def circles(edges: list[Edge]) -> dict[tuple[str, str], list[str]]:
    """Every import that is part of a circle, with one path round through it: (a, b) -> [a, b, ..., a]."""
    graph: dict[str, set[str]] = {}
    for e in edges:
        graph.setdefault(e.source, set()).add(e.target)
    found = {}
    for source, targets in graph.items():
        for target in targets:
            back = _path(graph, target, source)
            if back is not None:
                found[(source, target)] = [source, *back]
    return found


def _path(graph: dict[str, set[str]], start: str, goal: str) -> list[str] | None:
    """The shortest import path from ``start`` to ``goal`` (breadth first), or None."""
    came_from: dict[str, str | None] = {start: None}
    frontier = [start]
    while frontier:
        following = []
        for module in frontier:
            if module == goal:
                path = [module]
                while came_from[path[-1]] is not None:
                    path.append(came_from[path[-1]])  # type: ignore[arg-type]
                return path[::-1]
            for target in sorted(graph.get(module, ())):
                if target not in came_from:
                    came_from[target] = module
                    following.append(target)
        frontier = following
    return None


def problems(edges: list[Edge]) -> list[str]:
    """Every broken rule among ``edges``, one line each: the upward (or sideways) imports, then each circle with a
    new import in it (one not in KNOWN_CIRCLE_EDGES), as the path round."""
    broken = [f"{e.source}:{e.line} imports {e.target}: {why}" for e in edges if (why := violation(e))]
    rounds: dict[frozenset[str], list[str]] = {}  # one line for each circle, however many of its imports are new
    for pair, path in sorted(circles(edges).items()):
        if pair not in KNOWN_CIRCLE_EDGES:
            rounds.setdefault(frozenset(path), path)
    return broken + [f"import circle: {' -> '.join(path)}" for path in rounds.values()]


def all_edges() -> list[Edge]:
    return [edge for path in sorted(PACKAGE.rglob("*.py")) for edge in imports_of(path)]


def test_every_import_points_down_and_none_goes_round() -> None:
    found = problems(all_edges())
    assert not found, "\n" + "\n".join(found)


def test_the_known_circles_are_still_there() -> None:
    """A circle broken is taken off KNOWN_CIRCLE_EDGES, so it cannot come back unseen."""
    assert KNOWN_CIRCLE_EDGES - set(circles(all_edges())) == set()


def test_the_reader_sees_the_package() -> None:
    edges = all_edges()
    assert len({e.source for e in edges}) > 60
    assert Edge("tiktok.posting.publisher", "tiktok.posting.media", 0, False) not in edges  # line numbers matter
    assert any(e.source == "tiktok.emulator.app" and e.target.startswith("tiktok.emulator.") for e in edges)
    assert any(e.source == "tiktok.cli" and e.target == "tiktok.commands.post" for e in edges)  # module, not package
    assert {layer(e.source) for e in edges} == set(LAYERS) | {"emulator"}  # every layer is seen


def edge(source: str, target: str) -> Edge:
    return Edge(source, target, 1, True)  # a function's own import: it counts too


# One edge added to the real package, and what the check then says. The circles go through real imports: the
# command tree imports every command, posting.publisher imports posting.chunks, report.run imports retry.
ADDED = [
    pytest.param(edge("tiktok.options", "tiktok.cli"), ["upward", "circle"], id="plumbing-imports-the-cli"),
    pytest.param(edge("tiktok.retry", "tiktok.report.run"), ["upward", "circle"], id="plumbing-imports-a-flow"),
    pytest.param(edge("tiktok.errors", "tiktok.posting.limits"), ["upward"], id="upward-without-a-circle"),
    pytest.param(edge("tiktok.store.base", "tiktok.services"), ["upward", "circle"], id="store-imports-services"),
    pytest.param(edge("tiktok.posting.chunks", "tiktok.posting.publisher"), ["circle"], id="circle-in-one-package"),
    pytest.param(edge("tiktok.commands.post", "tiktok.cli"), ["circle"], id="a-command-imports-the-tree"),
    pytest.param(edge("tiktok.report.run", "tiktok.posting.runner"), ["apart"], id="a-flow-imports-another"),
    pytest.param(edge("tiktok.jobs.tasks", "tiktok.web.app"), ["apart"], id="the-workers-import-the-app"),
    pytest.param(edge("tiktok.posting.runner", "tiktok.jobs.tasks"), ["upward", "circle"],
                 id="a-flow-imports-the-workers"),
    pytest.param(edge("tiktok.posting.limits", "tiktok.report.limits"), ["apart"], id="apart-without-a-circle"),
    pytest.param(edge("tiktok.store.model", "tiktok.store.sql"), ["circle"], id="a-circle-inside-the-store"),
    pytest.param(edge("tiktok.commands.app", "tiktok.web.app"), [], id="a-command-may-import-the-app"),
]


@pytest.mark.parametrize("added, kinds", ADDED)
def test_an_added_circle_or_upward_import_fails_the_check(added: Edge, kinds: list[str]) -> None:
    found = problems([*all_edges(), added])
    said = {"upward": any("an upward import" in p for p in found),
            "apart": any("are apart" in p for p in found),
            "circle": any(p.startswith("import circle:") and f"{added.source} -> {added.target} " in p + " "
                          for p in found)}
    assert sorted(kind for kind, seen in said.items() if seen) == sorted(kinds), found


def test_a_circle_is_shown_as_the_path_round() -> None:
    graph = [edge("tiktok.a", "tiktok.b"), edge("tiktok.b", "tiktok.c"), edge("tiktok.c", "tiktok.a"),
             edge("tiktok.c", "tiktok.d"), edge("tiktok.d", "tiktok.d")]
    assert circles(graph) == {("tiktok.a", "tiktok.b"): ["tiktok.a", "tiktok.b", "tiktok.c", "tiktok.a"],
                              ("tiktok.b", "tiktok.c"): ["tiktok.b", "tiktok.c", "tiktok.a", "tiktok.b"],
                              ("tiktok.c", "tiktok.a"): ["tiktok.c", "tiktok.a", "tiktok.b", "tiktok.c"],
                              ("tiktok.d", "tiktok.d"): ["tiktok.d", "tiktok.d"]}
    assert circles(graph[:2]) == {}


@pytest.mark.parametrize("module, source, broken", [
    ("emulator/media_checks.py", "from tiktok.posting.media import probe\n", True),
    ("emulator/media_checks.py", "from ..posting import media\n", True),
    ("emulator/media_checks.py", "import tiktok.config\n", True),
    ("emulator/media_checks.py", "from .media_probe import probe_video\n", False),
    ("posting/publisher.py", "from tiktok.transcription.store import safe_name\n", True),
    ("posting/publisher.py", "from tiktok.auth.access import call_with_token\n", False),
    ("posting/publisher.py", "from tiktok.web import create_app\n", True),
    ("posting/publisher.py", "from tiktok.media.doctor import fix_video\n", True),
    ("media/doctor/plan.py", "from tiktok.posting.media import MediaInfo\n", False),
    ("media/doctor/plan.py", "from tiktok.report.run import write_report\n", True),
    ("posting/publisher.py", "from tiktok.emulator.server import start_emulator\n", True),
    ("posting/publisher.py", "def f():\n    from tiktok.emulator.server import start_emulator\n", False),
    ("posting/publisher.py", "def f():\n    from tiktok.cli import main\n", True),
    ("config.py", "from tiktok.auth.pkce import ENCODINGS\n", True),
    ("config.py", "def f():\n    from tiktok.services import build_services\n", True),
    ("services.py", "from tiktok.auth.tokens import TokenStore\n", False),
    ("services.py", "from tiktok.posting.runner import run_queue\n", True),
    ("report/run.py", "from tiktok import cli\n", True),
    ("report/run.py", "from tiktok.cli import build_parser\n", True),
    ("report/run.py", "from tiktok.commands import report\n", True),
    ("web/views.py", "from tiktok.report.history import load_history\n", False),
    ("web/views.py", "from tiktok.jobs.worker import list_queue\n", True),
    ("jobs/tasks.py", "from tiktok.report.run import write_report\n", False),
    ("commands/post.py", "from tiktok.posting.limits import DEFAULT_JOBS\n", False),
    ("posting/runner.py", "from tiktok.store.base import open_store\n", False),
    ("store/sql.py", "from tiktok.posting.manifest import PostRequest\n", True),
    ("store/base.py", "from tiktok.auth.tokens import TokenStore\n", False),
    ("auth/tokens.py", "from tiktok.store.base import open_store\n", True),
    ("config.py", "from tiktok.store.base import open_store\n", True),
])
def test_rules_table(module: str, source: str, broken: bool) -> None:
    edges = imports_of(PACKAGE / module, source)
    assert len(edges) == 1
    assert (violation(edges[0]) is not None) is broken


# -- the store's kind is chosen in one place ----------------------------------------------------------------------

STORE_KINDS = ("SqliteStore", "PostgresStore", "SqlStore", "PgTokenStore", "TokenStore")


def kind_tests(path: Path, source: str | None = None) -> list[str]:
    """``isinstance``/``hasattr`` calls in one module that ask which store (or token store) it has: an isinstance
    naming a store class, or a hasattr on something named like a store or queue."""
    tree = ast.parse(source if source is not None else path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id in ("isinstance", "hasattr") and len(node.args) == 2):
            continue
        subject, what = node.args
        names = {n.id for n in ast.walk(what) if isinstance(n, ast.Name)} | \
                {n.attr for n in ast.walk(what) if isinstance(n, ast.Attribute)}
        subject_names = {n.id for n in ast.walk(subject) if isinstance(n, ast.Name)} | \
                        {n.attr for n in ast.walk(subject) if isinstance(n, ast.Attribute)}
        if node.func.id == "isinstance" and names & set(STORE_KINDS):
            found.append(f"{path.name}:{node.lineno} isinstance(..., {', '.join(sorted(names))})")
        if node.func.id == "hasattr" and any("store" in n.lower() or "queue" in n.lower() for n in subject_names):
            found.append(f"{path.name}:{node.lineno} hasattr({', '.join(sorted(subject_names))}, ...)")
    return found


def test_no_module_outside_the_store_asks_which_store_it_has() -> None:
    outside = [p for p in sorted(PACKAGE.rglob("*.py")) if "store" not in p.relative_to(PACKAGE).parts[:1]]
    assert len(outside) > 60
    assert [hit for path in outside for hit in kind_tests(path)] == []


@pytest.mark.parametrize("source, caught", [
    ("if isinstance(store, SqliteStore):\n    pass\n", True),
    ("if isinstance(s, (PostgresStore, X)):\n    pass\n", True),
    ("if hasattr(queue, 'manifest'):\n    pass\n", True),
    ("if hasattr(self.posts_store, 'url'):\n    pass\n", True),
    ("if isinstance(exc, StoreError):\n    pass\n", False),
    ("if hasattr(bar, 'close'):\n    pass\n", False),
])
def test_the_kind_test_reader_sees_them(source: str, caught: bool) -> None:
    assert bool(kind_tests(PACKAGE / "web" / "posts.py", source)) is caught
