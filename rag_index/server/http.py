"""The HTTP app: search, texts (agent memory) by namespace, index runs, info and health over one warm
RagIndex, and the MCP tools over streamable HTTP at /mcp.

FastAPI over Starlette: it validates the request bodies against the models below and publishes them as the
OpenAPI schema at /openapi.json, which the contract asks for; plain Starlette would need both by hand.
Every error is ``{"error": {"message": str, "field": str | null}}`` with a 4xx (5xx: the store is down).
What the routes do is rag_index.server.service's, shared with the MCP tools.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from rag_index.api import RagIndex
from rag_index.errors import ConfigError, FieldError, LockError, RagIndexError, StoreError
from rag_index.index.memory import WRITE_WAIT
from rag_index.server.auth import Grant, grant_of
from rag_index.server.mcp import create_mcp
from rag_index.server.runs import Busy, Forbidden, IndexRuns
from rag_index.server.service import MAX_TEXT, NotFound, Service

MAX_BODY = 10 * 1024 * 1024  # bytes of a request body (413 beyond)
MAX_TEXTS = 1_000  # texts in one request


class SearchRequest(BaseModel):
    """POST /search: the query, how many hits, the namespace and filters; other keys are retrieval options."""

    model_config = ConfigDict(extra="allow")

    query: str = Field(min_length=1, max_length=MAX_TEXT)
    k: int = Field(default=5, ge=1, le=100)
    namespace: str | None = None
    where: dict[str, Any] | None = None
    where_document: dict[str, Any] | None = None


class TextsRequest(BaseModel):
    """POST /texts: texts to remember, with optional metadata and ids (one per text), in a namespace."""

    model_config = ConfigDict(extra="forbid")

    texts: list[str] = Field(min_length=1, max_length=MAX_TEXTS)
    metadatas: list[dict[str, Any] | None] | None = None
    ids: list[str] | None = None
    namespace: str | None = None


class IndexRequest(BaseModel):
    """POST /index: a folder or file inside server.index_roots (relative: to the first root)."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(min_length=1, max_length=4096)
    prune: bool = True


class Failure(Exception):
    """An error for the caller: its HTTP status, message and the field it is about."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.field = status, message, field


def _error(status: int, message: str, field: str | None = None) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "field": field}}, status_code=status)


def _field_of(err: ConfigError) -> str | None:
    """'retrieval.alpha: ...' -> 'alpha': the request key a retrieval option error is about."""
    head = str(err).split(":", 1)[0]
    return head.removeprefix("retrieval.") if head.startswith("retrieval.") else None


def grant(request: Request) -> Grant:
    """What the request's bearer token allows (everything when the app has no tokens); 401 without one."""
    tokens: dict[str, Grant] | None = request.app.state.tokens
    if tokens is None:
        return Grant(None)
    found = grant_of(tokens, request.headers.get("authorization"))
    if found is None:
        raise Failure(401, "a valid bearer token is required (Authorization: Bearer TOKEN)")
    return found


async def _access(request: Request) -> Grant:
    # async: FastAPI runs a plain function dependency in its thread pool, one more hop per request
    return grant(request)


Access = Annotated[Grant, Depends(_access)]


class BoundedBodies:
    """ASGI middleware: a body over MAX_BODY is refused (413) before it is read, and /mcp, which has no
    FastAPI dependency, gets its token checked here. Plain ASGI: Starlette's BaseHTTPMiddleware costs
    every request a task group and a stream."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        refusal = self._refusal(Request(scope)) if scope["type"] == "http" else None
        if refusal is not None:
            await refusal(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    @staticmethod
    def _refusal(request: Request) -> Response | None:
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > MAX_BODY:
            return _error(413, f"request body over {MAX_BODY} bytes")
        if request.url.path == "/mcp":
            try:
                grant(request)
            except Failure as err:
                return _error(err.status, err.message, err.field)
        return None


def create_app(
    index: RagIndex,
    tokens: dict[str, Grant] | None = None,
    host: str = "127.0.0.1",
    write_wait: float = WRITE_WAIT,
) -> FastAPI:
    """The app serving index; with tokens, every request needs a bearer token (and its namespaces).

    host: the address served, which the MCP door's DNS-rebinding protection checks on loopback.
    write_wait: seconds a write waits for another writer of the store (an index run) before a 409.
    """
    service = Service(index, write_wait)
    runs = IndexRuns(index, wait=write_wait)
    mcp = create_mcp(service, tokens)
    mcp_app = mcp.streamable_http_app(stateless_http=True, json_response=True, host=host)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with mcp.session_manager.run():
            yield
        runs.stop()

    app = FastAPI(
        title="rag-index",
        summary="Search and agent memory over one rag-index collection",
        lifespan=lifespan,
    )
    app.state.tokens = tokens
    app.state.runs = runs
    app.router.routes.extend(mcp_app.routes)  # /mcp, beside the routes below

    @contextmanager
    def calling() -> Iterator[None]:
        """The service's errors as the caller's HTTP errors."""
        try:
            yield
        except FieldError as err:
            raise Failure(422, str(err), err.field) from None
        except NotFound as err:
            raise Failure(404, str(err), "id") from None
        except Forbidden as err:
            raise Failure(403, str(err), "path") from None
        except Busy as err:
            raise Failure(409, str(err)) from None
        except ConfigError as err:
            raise Failure(422, str(err), _field_of(err)) from None
        except LockError as err:
            raise Failure(409, str(err)) from None
        except StoreError as err:
            raise Failure(503, str(err)) from None
        except RagIndexError as err:
            raise Failure(422, str(err)) from None
        except ValueError as err:  # e.g. a where filter Chroma rejects
            raise Failure(422, str(err), "where") from None

    def allowed(access: Grant, namespace: str | None) -> str | None:
        if not access.allows(namespace):
            names = ", ".join(sorted(access.namespaces or ()))
            raise Failure(403, f"this token may use the namespaces {names} only", "namespace")
        return namespace

    app.add_middleware(BoundedBodies)

    @app.exception_handler(Failure)
    async def failure(_: Request, err: Failure) -> JSONResponse:
        return _error(err.status, err.message, err.field)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, err: RequestValidationError) -> JSONResponse:
        first = err.errors()[0]
        field = ".".join(str(part) for part in first["loc"] if part != "body") or None
        return _error(422, f"{field}: {first['msg']}" if field else first["msg"], field)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, err: HTTPException) -> JSONResponse:
        return _error(err.status_code, str(err.detail))

    @app.get("/health")
    def health() -> dict[str, str]:
        """Whether the server answers (no token needed)."""
        return {"status": "ok"}

    @app.get("/info")
    def info(access: Access) -> dict[str, Any]:
        """The collection's size, sources, texts and embedder fingerprint."""
        with calling():
            return service.info()

    @app.post("/search")
    def search(body: SearchRequest, access: Access) -> dict[str, Any]:
        """The best chunks for the query, in the namespace (none: every chunk), with their explanation."""
        with calling():
            namespace = allowed(access, body.namespace)
            options = dict(body.model_extra or {})
            hits = service.search(body.query, body.k, namespace, body.where, body.where_document, **options)
        return {"hits": hits}

    @app.post("/texts")
    def add_texts(body: TextsRequest, access: Access) -> dict[str, Any]:
        """Remember texts in the namespace; their ids back, in order (an existing id is replaced)."""
        with calling():
            namespace = allowed(access, body.namespace)
            return {"ids": service.remember(body.texts, body.metadatas, body.ids, namespace)}

    @app.post("/index", status_code=202)
    def start_index(body: IndexRequest, access: Access) -> dict[str, Any]:
        """Bring the collection up to date with a path under server.index_roots, in the background."""
        with calling():
            if access.namespaces is not None:
                raise Failure(403, "index runs need a token that is not bound to namespaces")
            return runs.start(body.path, body.prune).to_dict()

    @app.get("/index/{run}")
    def index_run(run: str, access: Access) -> dict[str, Any]:
        """An index run's state: running, done (with its report) or failed (with its error)."""
        state = runs.get(run)
        if state is None:
            raise Failure(404, f"no index run {run!r} since the server started", "run")
        return state.to_dict()

    @app.get("/texts/{id_}")
    def get_text(id_: str, access: Access, namespace: str | None = None) -> dict[str, Any]:
        """One remembered text, as it was given."""
        with calling():
            return service.get(id_, allowed(access, namespace))

    @app.delete("/texts/{id_}")
    def delete_text(id_: str, access: Access, namespace: str | None = None) -> dict[str, Any]:
        """Forget one text of the namespace."""
        with calling():
            return {"deleted": service.forget(id_, allowed(access, namespace))}

    return app
