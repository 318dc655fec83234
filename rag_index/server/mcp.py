"""The MCP door (the official SDK's MCPServer): the same service as HTTP, as tools a model can call.

``rag-index mcp`` serves them over stdio, the way desktop assistants and agent frameworks attach a tool
server; ``rag-index serve`` serves them over streamable HTTP at /mcp beside its routes, one Service behind
both. Each tool returns the objects the HTTP routes return; a mistake comes back as the tool's error. Over
HTTP with tokens, the request's bearer token must allow the namespace a tool is called with.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from rag_index.errors import RagIndexError
from rag_index.server.auth import Grant, grant_of
from rag_index.server.service import Service

F = TypeVar("F", bound=Callable[..., Any])


def _plain(tool: F) -> F:
    """A mistake (a bad namespace, an unknown id, an empty text) as the tool's one-line error."""

    @functools.wraps(tool)
    def calling(*args: Any, **kwargs: Any) -> Any:
        try:
            return tool(*args, **kwargs)
        except (RagIndexError, ValueError) as err:
            raise ToolError(str(err)) from None

    return cast(F, calling)


INSTRUCTIONS = (
    "A searchable index of documents and of memories. Use `search` to find passages relevant to a question, "
    "`remember` to store something worth recalling later, `recall_recent` for the newest memories, `forget` "
    "to delete one, `index_status` to see what the index holds. Pass the same `namespace` every time to keep "
    "your memories apart from other agents'."
)


def create_mcp(service: Service, tokens: dict[str, Grant] | None = None) -> MCPServer:
    """The MCP server over service: tools search, remember, forget, recall_recent and index_status.

    tokens: those of the HTTP server this one is mounted in (None: stdio, or a server without tokens).
    """
    server: MCPServer = MCPServer("rag-index", instructions=INSTRUCTIONS)

    def allowed(ctx: Context, namespace: str | None) -> str | None:
        """namespace, when the caller's token may use it (the HTTP door already refused unknown tokens)."""
        if tokens is None:
            return namespace
        grant = grant_of(tokens, (ctx.headers or {}).get("authorization"))
        if grant is None or not grant.allows(namespace):
            raise ToolError(f"this token may not use the namespace {namespace!r}")
        return namespace

    @server.tool()
    @_plain
    def search(
        query: str, ctx: Context, k: int = 5, namespace: str | None = None, neighbours: int | None = None
    ) -> dict[str, Any]:
        """Find the passages (document chunks and memories) most relevant to a question or topic.

        Returns {"hits": [{"id", "score", "text", "metadata"}]}, best first; metadata names the source file
        and page of a document chunk. With a namespace, only that namespace's memories are searched.
        neighbours: widen each hit by up to this many chunks on each side of its document, for context
        around the match (default: the server's retrieval.neighbours).
        """
        return {"hits": service.search(query, k, allowed(ctx, namespace), neighbours=neighbours)}

    @server.tool()
    @_plain
    def remember(
        text: str, ctx: Context, metadata: dict[str, Any] | None = None, namespace: str | None = None
    ) -> dict[str, Any]:
        """Store a memory (a fact, an observation, a decision) so that `search` finds it later.

        metadata: optional flat key-value pairs (strings, numbers, booleans). Returns {"ids": [id]}.
        """
        return {"ids": service.remember([text], [metadata], None, allowed(ctx, namespace))}

    @server.tool()
    @_plain
    def forget(id: str, ctx: Context, namespace: str | None = None) -> dict[str, Any]:
        """Delete one memory by the id `remember` returned. Returns {"deleted": [id]}."""
        return {"deleted": service.forget(id, allowed(ctx, namespace))}

    @server.tool()
    @_plain
    def recall_recent(ctx: Context, k: int = 5, namespace: str | None = None) -> dict[str, Any]:
        """The k newest memories, newest first: {"memories": [{"id", "text", "metadata"}]}."""
        return {"memories": service.recent(k, allowed(ctx, namespace))}

    @server.tool()
    @_plain
    def index_status() -> dict[str, Any]:
        """What the index holds: chunks, source files, memories, and the embedder it was built with."""
        return service.info()

    return server
