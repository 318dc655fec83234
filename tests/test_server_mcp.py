"""`rag-index mcp`: the MCP tools over stdio, driven by the official SDK's own client."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import httpx
import httpx2
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from rag_index.api import RagIndex
from rag_index.server.mcp import create_mcp
from rag_index.server.service import Service
from tests.fakes import FakeEmbedder
from tests.served import served

REPO = Path(__file__).resolve().parents[1]


def result_of(called: Any) -> dict[str, Any]:
    """A tool's JSON result (structured content when the SDK gives it, else its text)."""
    if getattr(called, "structured_content", None):
        return dict(called.structured_content)
    return dict(json.loads(called.content[0].text))


async def session(server: Any) -> dict[str, Any]:
    async with Client(server) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        remembered = result_of(
            await client.call_tool("remember", {"text": "the kettle is broken", "namespace": "ada"})
        )
        await client.call_tool("remember", {"text": "Bob's kettle works", "namespace": "bob"})
        found = result_of(await client.call_tool("search", {"query": "kettle", "k": 5, "namespace": "ada"}))
        recent = result_of(await client.call_tool("recall_recent", {"namespace": "ada"}))
        forgot = result_of(await client.call_tool("forget", {"id": remembered["ids"][0], "namespace": "ada"}))
        bad = await client.call_tool("search", {"query": "kettle", "namespace": "../x"})
        status = result_of(await client.call_tool("index_status", {}))
        return {
            "names": names,
            "ids": remembered["ids"],
            "found": found,
            "recent": recent,
            "forgot": forgot,
            "bad": bad,
            "status": status,
        }


def check(out: dict[str, Any]) -> None:
    assert out["names"] == {"search", "remember", "forget", "recall_recent", "index_status"}
    assert [hit["text"] for hit in out["found"]["hits"]] == ["the kettle is broken"]  # ada's only
    assert out["found"]["hits"][0]["id"] == out["ids"][0]
    assert [m["text"] for m in out["recent"]["memories"]] == ["the kettle is broken"]
    assert out["forgot"] == {"deleted": out["ids"]}
    assert out["bad"].is_error and "namespace '../x'" in out["bad"].content[0].text
    assert out["status"]["texts"] == 1  # bob's, after ada's was forgotten


def test_the_tools_in_process(tmp_path: Path) -> None:
    index = RagIndex(store={"path": str(tmp_path / "store")}, embedder=FakeEmbedder())
    index.create()
    check(asyncio.run(session(create_mcp(Service(index)))))


def test_the_tools_over_stdio(tmp_path: Path, tiny_model: Path) -> None:
    args = ["-m", "rag_index.cli", "mcp", "--set", f"store.path={tmp_path / 'store'}"]
    args += ["--set", f"embedder.model={tiny_model}"]
    server = StdioServerParameters(command=sys.executable, args=args, cwd=str(REPO))
    check(asyncio.run(session(server)))


def test_the_tools_over_streamable_http_beside_the_routes(tmp_path: Path, tiny_model: Path) -> None:
    """The same tools at /mcp of `rag-index serve`, through its bearer tokens and their namespaces."""
    tokens = tmp_path / "tokens"
    tokens.write_text(f"{ADMIN}\n{BOB} bob\n")
    args = ["--token-file", str(tokens), "--set", f"store.path={tmp_path / 'store'}"]
    with served([*args, "--set", f"embedder.model={tiny_model}"]) as (url, _):
        check(asyncio.run(session(over_http(f"{url}/mcp", ADMIN))))
        refused = asyncio.run(bob_reads_ada(over_http(f"{url}/mcp", BOB)))
        assert refused.is_error and "may not use the namespace 'ada'" in refused.content[0].text
        assert httpx.post(f"{url}/mcp", json={}).status_code == 401  # no token, no MCP


ADMIN, BOB = "admin-token-0123456789", "bob-token-0123456789"


def over_http(url: str, token: str) -> Any:
    """The SDK's streamable HTTP transport, sending the bearer token."""
    client = httpx2.AsyncClient(headers={"authorization": f"Bearer {token}"}, timeout=60)
    return streamable_http_client(url, http_client=client)


async def bob_reads_ada(transport: Any) -> Any:
    async with Client(transport) as client:
        return await client.call_tool("search", {"query": "kettle", "namespace": "ada"})
