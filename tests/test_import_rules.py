"""The package's import directions, read from every module's source with ``ast`` (nothing is imported).

- Shared plumbing (the top-level modules) imports only plumbing; ``services`` (which wires the token store and
  OAuth client together) and ``cli``/``__main__`` (the ``python -m tiktok`` dispatcher) may also import flows.
- Flows (auth, posting, transcription, report) import plumbing, ``auth`` and the post store, never each other.
- The post store (``store``) imports plumbing and ``auth`` only: the engine above it never leaks into it.
- Nothing imports the ``python -m tiktok`` dispatcher (``cli``) but ``__main__``.
- Nothing imports ``web``, except ``web`` itself.
- The workers (``jobs``) may import every flow; only the dispatcher imports them.
- The emulator imports nothing from the client: only the standard library, third-party packages and itself.
- The client may start the emulator or the AssemblyAI stand-in only from a function (emulator mode), never at
  module level, so a real run never loads it.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "tiktok"
FLOWS = ("auth", "posting", "transcription", "report")
STORE = "store"
WIRING = ("tiktok.services", "tiktok.cli", "tiktok.__main__")
JOBS = "tiktok.jobs"  # the workers: like the dispatcher, they wire several flows together


@dataclass(frozen=True)
class Edge:
    source: str      # dotted module name
    target: str      # dotted module name imported
    line: int
    nested: bool     # inside a function body


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, source: str | None = None) -> list[Edge]:
    """Every tiktok.* import in one module, relative ones resolved."""
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
            targets = [f"{base}.{alias.name}" if base == "tiktok" or not node.module else base
                       for alias in node.names]
        for target in targets:
            if target == "tiktok" or target.startswith("tiktok."):
                edges.append(Edge(name, target, node.lineno, id(node) not in top_level))
    return edges


def area(module: str) -> str:
    """'emulator', 'web', a flow name, or 'plumbing' for the top-level modules."""
    parts = module.split(".")
    if len(parts) >= 2 and parts[1] in (*FLOWS, STORE, "web", "emulator", "jobs"):
        return parts[1]
    return "plumbing"


def violation(edge: Edge) -> str | None:
    """Why ``edge`` breaks a rule, or None."""
    source, target = area(edge.source), area(edge.target)
    if target == "emulator" and source != "emulator":
        return None if edge.nested else "the client may load the emulator only inside a function (emulator mode)"
    if source == "emulator":
        return None if target == "emulator" else "the emulator imports nothing from the client packages"
    if target == "web":
        return None if source == "web" else "nothing imports web"
    if source == "web":
        return None
    if area(edge.source) == "jobs":
        return None  # the workers run the flows (web is refused above)
    if target == "jobs" and edge.source not in WIRING:
        return "only the python -m tiktok dispatcher starts workers"
    if edge.target in WIRING[1:] and edge.source not in WIRING:
        return "only python -m tiktok itself imports its dispatcher (it imports the flows: a cycle otherwise)"
    if source == "plumbing":
        if target == "plumbing" or edge.source in WIRING:
            return None
        return f"shared plumbing imports only plumbing, not {target}"
    if source == STORE:
        return None if target in ("plumbing", "auth", STORE) else f"the store imports plumbing and auth, not {target}"
    if target in ("plumbing", "auth", STORE, source):
        return None
    return f"the {source} flow imports plumbing, auth and the store, not {target}"


def all_edges() -> list[Edge]:
    return [edge for path in sorted(PACKAGE.rglob("*.py")) for edge in imports_of(path)]


def test_every_import_follows_the_rules() -> None:
    broken = [f"{e.source}:{e.line} imports {e.target}: {why}" for e in all_edges() if (why := violation(e))]
    assert broken == []


def test_the_reader_sees_the_package() -> None:
    edges = all_edges()
    assert len({e.source for e in edges}) > 60
    assert Edge("tiktok.posting.publisher", "tiktok.posting.media", 0, False) not in edges  # line numbers matter
    assert any(e.source == "tiktok.emulator.app" and e.target.startswith("tiktok.emulator.") for e in edges)


@pytest.mark.parametrize("module, source, broken", [
    ("emulator/media_checks.py", "from tiktok.posting.media import probe\n", True),
    ("emulator/media_checks.py", "from ..posting import media\n", True),
    ("emulator/media_checks.py", "import tiktok.config\n", True),
    ("emulator/media_checks.py", "from .media_probe import probe_video\n", False),
    ("posting/publisher.py", "from tiktok.transcription.store import safe_name\n", True),
    ("posting/publisher.py", "from tiktok.auth.access import call_with_token\n", False),
    ("posting/publisher.py", "from tiktok.web import create_app\n", True),
    ("posting/publisher.py", "from tiktok.emulator.server import start_emulator\n", True),
    ("posting/publisher.py", "def f():\n    from tiktok.emulator.server import start_emulator\n", False),
    ("config.py", "from tiktok.auth.pkce import ENCODINGS\n", True),
    ("services.py", "from tiktok.auth.tokens import TokenStore\n", False),
    ("report/run.py", "from tiktok import cli\n", True),
    ("report/run.py", "from tiktok.cli import build_parser\n", True),
    ("web/views.py", "from tiktok.report.cli import DEFAULT_REPORTS_DIR\n", False),
    ("posting/runner.py", "from tiktok.store.base import open_store\n", False),
    ("store/sql.py", "from tiktok.posting.manifest import PostRequest\n", True),
    ("store/base.py", "from tiktok.auth.tokens import TokenStore\n", False),
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
