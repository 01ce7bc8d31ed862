"""The package's layers, read from its imports with ``ast``: every arrow points down.

From the top: the entry points (``cli``, ``devserver``), the adapters (``api``, ``defs``),
then the domain ``core`` (``posts`` > ``scheduling`` > ``observability`` > ``publishing`` >
``accounts`` and ``media`` > ``workspaces`` > core's infrastructure), then ``providers``
and ``sandbox`` (which never import each other), and at the bottom the shared vocabulary
(``errors``, ``settings``, ``clock``, ``crypto``). A module may import its own layer and any
layer below it; imports inside functions and under ``TYPE_CHECKING`` count too. The core
imports no web or orchestration framework, and no two modules import each other in a cycle.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = "postiz_pipelines"
ROOT = Path(__file__).resolve().parents[1] / PACKAGE

# layer -> rank; a module may import layers of a lower rank, and its own layer.
RANKS: dict[str, int] = {
    "vocabulary": 0,
    "providers": 10,
    "sandbox": 10,
    "core.infra": 20,
    "core.workspaces": 30,
    "core.accounts": 40,
    "core.media": 40,
    "core.publishing": 50,
    # the connect flows reconnect accounts in place and release their held jobs
    "core.accounts.connect": 55,
    "core.observability": 60,
    "core.scheduling": 70,
    "core.posts": 80,
    "api": 90,
    "defs": 90,
    "cli": 100,
}
VOCABULARY = {"errors", "settings", "clock", "crypto", ""}
CORE_INFRA = {"", "models", "db", "ids", "context", "migrate", "events", "audit"}
FRAMEWORKS = {"dagster", "fastapi", "starlette", "uvicorn", "click"}


def layer_of(module: str) -> str:
    """The layer of a module named relative to the package (``core.publishing.queue``)."""
    parts = module.split(".")
    head = parts[0]
    if module in VOCABULARY:
        return "vocabulary"
    if head in {"providers", "sandbox", "api", "defs", "cli"}:
        return head
    if head == "devserver":
        return "cli"
    if head == "core":
        sub = parts[1] if len(parts) > 1 else ""
        if parts[1:3] == ["accounts", "connect"]:
            return "core.accounts.connect"
        return "core.infra" if sub in CORE_INFRA else f"core.{sub}"
    raise AssertionError(f"{module}: no layer assigned; add it to test_layers.py")


def modules(root: Path) -> Iterator[tuple[str, Path]]:
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield ".".join(parts), path


def imports(module: str, path: Path, package: str) -> Iterator[tuple[str, int]]:
    """(imported name, line) for every import in the file, absolute or relative."""
    tree = ast.parse(path.read_text(), filename=str(path))
    is_pkg = path.name == "__init__.py"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if module else []
                base = base if is_pkg else base[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([package, *base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            for alias in node.names:  # ``from pkg import module`` is the module, else pkg
                yield f"{target}.{alias.name}", node.lineno


def internal(name: str, known: set[str], package: str) -> str | None:
    """The package module ``name`` refers to (longest known prefix), or None if foreign."""
    if name != package and not name.startswith(package + "."):
        return None
    rel = name[len(package) + 1 :] if name != package else ""
    while rel not in known:
        if "." not in rel:
            return "" if "" in known else None
        rel = rel.rsplit(".", 1)[0]
    return rel


def violations(root: Path, package: str = PACKAGE) -> list[str]:
    mods = dict(modules(root))
    known = set(mods)
    found: list[str] = []
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for mod, path in mods.items():
        here = layer_of(mod)
        for name, line in imports(mod, path, package):
            top = name.split(".")[0]
            if here.startswith("core") and top in FRAMEWORKS:
                found.append(f"{mod}:{line} imports {name}: the core knows no framework")
            if here in {"providers", "sandbox", "vocabulary"} and top in {"sqlalchemy", "dagster"}:
                found.append(f"{mod}:{line} imports {name}: below the core there is no database")
            target = internal(name, known, package)
            if target is None or target == mod:
                continue
            graph[mod].add(target)
            there = layer_of(target)
            if there == here:
                continue
            if RANKS[there] >= RANKS[here]:
                found.append(
                    f"{mod}:{line} imports {package}.{target} ({there} is not below {here})"
                )
    found.extend(f"import cycle: {' -> '.join(c)}" for c in cycles(graph))
    return sorted(set(found))


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
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

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_every_import_points_down() -> None:
    assert violations(ROOT) == []


def test_every_core_subpackage_says_what_it_may_import() -> None:
    for init in sorted((ROOT / "core").glob("*/__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text())) or ""
        assert "May import" in doc or "may import" in doc, init


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / PACKAGE
    for rel, text in {"__init__.py": "", **files}.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (
            {
                "providers/__init__.py": "",
                "providers/x.py": "from postiz_pipelines.core import db\n",
                "core/__init__.py": "",
                "core/db.py": "",
            },
            "providers.x:1 imports postiz_pipelines.core.db (core.infra is not below providers)",
        ),
        (
            {
                "sandbox/__init__.py": "",
                "sandbox/x.py": "from postiz_pipelines.providers import text\n",
                "providers/__init__.py": "",
                "providers/text.py": "",
            },
            "sandbox.x:1 imports postiz_pipelines.providers.text (providers is not below sandbox)",
        ),
        (
            {
                "core/__init__.py": "",
                "core/publishing/__init__.py": "",
                "core/publishing/queue.py": "def f():\n    from ..posts import create\n",
                "core/posts/__init__.py": "",
                "core/posts/create.py": "",
            },
            "core.publishing.queue:2 imports postiz_pipelines.core.posts.create "
            "(core.posts is not below core.publishing)",
        ),
        (
            {"core/__init__.py": "", "core/models.py": "import dagster\n"},
            "core.models:1 imports dagster: the core knows no framework",
        ),
        (
            {
                "core/__init__.py": "",
                "core/models.py": "from postiz_pipelines.core import db\n",
                "core/db.py": "from postiz_pipelines.core import models\n",
            },
            "import cycle: core.db -> core.models",
        ),
    ],
)
def test_a_forbidden_import_is_reported(
    tmp_path: Path, files: dict[str, str], expected: str
) -> None:
    assert expected in violations(_tree(tmp_path, files))


def test_a_clean_tree_reports_nothing(tmp_path: Path) -> None:
    files = {
        "clock.py": "",
        "providers/__init__.py": "",
        "providers/base.py": "from postiz_pipelines import clock\n",
        "core/__init__.py": "",
        "core/models.py": "from postiz_pipelines.providers import base\n",
    }
    assert violations(_tree(tmp_path, files)) == []
