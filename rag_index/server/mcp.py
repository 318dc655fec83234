"""The MCP door (the official SDK's MCPServer): the same service as HTTP, as tools a model can call.

``rag-index mcp`` serves them over stdio, the way desktop assistants and agent frameworks attach a tool
server. Each tool returns the objects the HTTP routes return; a mistake comes back as the tool's error.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from rag_index.api import RagIndex
from rag_index.errors import RagIndexError
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


def create_mcp(index: RagIndex) -> MCPServer:
    """The MCP server over index: tools search, remember, forget, recall_recent and index_status."""
    service = Service(index)
    server: MCPServer = MCPServer("rag-index", instructions=INSTRUCTIONS)

    @server.tool()
    @_plain
    def search(query: str, k: int = 5, namespace: str | None = None) -> dict[str, Any]:
        """Find the passages (document chunks and memories) most relevant to a question or topic.

        Returns {"hits": [{"id", "score", "text", "metadata"}]}, best first; metadata names the source file
        and page of a document chunk. With a namespace, only that namespace's memories are searched.
        """
        return {"hits": service.search(query, k, namespace)}

    @server.tool()
    @_plain
    def remember(
        text: str, metadata: dict[str, Any] | None = None, namespace: str | None = None
    ) -> dict[str, Any]:
        """Store a memory (a fact, an observation, a decision) so that `search` finds it later.

        metadata: optional flat key-value pairs (strings, numbers, booleans). Returns {"ids": [id]}.
        """
        return {"ids": service.remember([text], [metadata], None, namespace)}

    @server.tool()
    @_plain
    def forget(id: str, namespace: str | None = None) -> dict[str, Any]:
        """Delete one memory by the id `remember` returned. Returns {"deleted": [id]}."""
        return {"deleted": service.forget(id, namespace)}

    @server.tool()
    @_plain
    def recall_recent(k: int = 5, namespace: str | None = None) -> dict[str, Any]:
        """The k newest memories, newest first: {"memories": [{"id", "text", "metadata"}]}."""
        return {"memories": service.recent(k, namespace)}

    @server.tool()
    @_plain
    def index_status() -> dict[str, Any]:
        """What the index holds: chunks, source files, memories, and the embedder it was built with."""
        return service.info()

    return server
