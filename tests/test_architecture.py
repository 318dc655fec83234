"""The house: imports point one way, down the flow, and no module imports itself back through a cycle."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "rag_index"

# From the bottom up: a module may import from its own layer and the layers below, never above.
LAYERS = [
    ["errors", "types", "cancellation", "coalesce"],
    ["settings"],
    ["loaders"],
    ["chunking"],
    ["embed"],
    ["storage"],
    ["search"],
    ["config"],
    ["build"],
    ["index"],
    ["evaluation"],
    ["training"],  # learned pooling: trains on the evaluation datasets, writes files the embedder reads
    ["integrations"],  # LangChain adapters over the core; RagIndex hands them out (as_retriever)
    ["api", "remote"],  # RagIndex, and a running server as one (RagIndex.remote)
    ["server"],  # the HTTP app: a thin door over RagIndex (namespaces and tokens are checked there)
    ["cli", "__init__"],
]
LAYER_OF = {name: level for level, names in enumerate(LAYERS) for name in names}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """The rag_index modules a file imports, at run time or for type checking alike."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("rag_index"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("rag_index"))
    return found


def graph() -> dict[str, set[str]]:
    modules = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    return {
        name: {i for i in imports_of(path) if i in modules and i != name} for name, path in modules.items()
    }


def room(module: str) -> str:
    """The top-level room of a module: rag_index.embed.pooling -> embed; the package itself -> __init__."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_every_room_has_a_layer() -> None:
    rooms = {room(name) for name in graph()}
    assert rooms <= set(LAYER_OF), f"rooms without a layer: {sorted(rooms - set(LAYER_OF))}"


def test_imports_never_point_up_the_flow() -> None:
    upward = [
        f"{module} imports {target}"
        for module, targets in graph().items()
        for target in targets
        if LAYER_OF[room(target)] > LAYER_OF[room(module)]
    ]
    assert upward == []


def test_the_import_graph_has_no_cycle() -> None:
    edges = graph()
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for target in sorted(edges[node]):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    assert cycles == []
