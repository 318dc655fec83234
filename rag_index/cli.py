"""The `rag-index` command. Heavy imports (torch, chromadb) happen inside the commands."""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rag_index.index.progress import Progress

SUITE_DATASETS = "../shared/datasets"  # where the project's evaluation data lives beside a clone


class UsageError(Exception):
    """A user mistake that deserves one clear line, not a traceback."""


def _config_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE", help="YAML config (default: built-in defaults)")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key, e.g. --set embedder.pooling=cls (repeatable)",
    )
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON on stdout")


def _wait_option(parser: argparse.ArgumentParser, default: float = 0.0) -> None:
    parser.add_argument(
        "--wait",
        type=float,
        default=default,
        metavar="SECONDS",
        help="wait this long for another run writing to the same store "
        + (f"(default: {default:g})" if default else "(default: fail at once)"),
    )


def _quiet_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr: only the result")


def _progress(args: argparse.Namespace) -> bool | Progress:
    """The progress an index run reports: none with --quiet, else on stderr (RAG_INDEX_PROGRESS_EVERY)."""
    from rag_index.index.progress import LOG_EVERY, RunProgress

    if args.quiet:
        return False
    value = os.environ.get("RAG_INDEX_PROGRESS_EVERY", "")
    try:
        interval = float(value) if value else LOG_EVERY
    except ValueError:
        interval = -1.0
    if not interval > 0:  # also refuses nan
        raise UsageError(f"RAG_INDEX_PROGRESS_EVERY: expected a number of seconds > 0, got {value!r}")
    return RunProgress(interval=interval)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rag-index", description="Index folders into Chroma and query them."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="show debug logging")
    commands = parser.add_subparsers(dest="command", required=True)

    index = commands.add_parser("index", help="index a folder of PDF, text, Markdown and HTML files")
    index.add_argument("path", help="folder (or single file) to index")
    _config_options(index)
    index.add_argument("--strict", action="store_true", help="exit non-zero if any file was skipped")
    index.add_argument(
        "--recreate", action="store_true", help="drop the collection first (e.g. new embedder)"
    )
    index.add_argument(
        "--no-prune", action="store_true", help="keep the chunks of files deleted from the folder"
    )
    _wait_option(index)
    _quiet_option(index)

    verify = commands.add_parser("verify", help="check that the manifest and the store agree")
    verify.add_argument("--repair", action="store_true", help="fix the drift found (re-index, delete)")
    _config_options(verify)
    _wait_option(verify)

    add = commands.add_parser("add", help="add texts (agent memory) beside the indexed files")
    add.add_argument("texts", nargs="+", metavar="TEXT", help="texts to add; - reads JSON lines from stdin")
    add.add_argument(
        "--id", dest="ids", action="append", default=[], metavar="ID", help="the id of each text, in order"
    )
    add.add_argument(
        "--meta",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="metadata for every text given (repeatable; VALUE read as a JSON number or bool if it is one)",
    )
    _config_options(add)
    _wait_option(add, 10.0)

    delete = commands.add_parser("delete", help="delete texts added with `rag-index add`, by id")
    delete.add_argument("ids", nargs="+", metavar="ID", help="ids of the texts to delete")
    _config_options(delete)
    _wait_option(delete, 10.0)

    query = commands.add_parser("query", help="retrieve the chunks most similar to a question")
    query.add_argument("text", help="the question")
    query.add_argument("-k", type=int, default=None, help="number of chunks (default: retrieval.k)")
    _config_options(query)

    info = commands.add_parser("info", help="describe the collection")
    _config_options(info)

    mcp = commands.add_parser("mcp", help="serve search and agent memory as MCP tools over stdio")
    _config_options(mcp)

    serve = commands.add_parser("serve", help="serve search and agent memory over HTTP, the model kept warm")
    _config_options(serve)
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8750, help="port (default: 8750)")
    serve.add_argument(
        "--token-file",
        metavar="FILE",
        help="bearer tokens, one a line, each optionally followed by the namespaces it may use (a,b); "
        "required to bind beyond loopback",
    )

    evaluate = commands.add_parser(
        "eval", help="score retrieval on a BEIR or document-QA dataset, or on the whole quality suite"
    )
    source = evaluate.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--dataset", metavar="PATH", help="BEIR folder, or folder with qna_data.csv and docs/"
    )
    source.add_argument(
        "--suite",
        nargs="?",
        const=SUITE_DATASETS,
        metavar="DIR",
        help="every dataset of the quality suite found in DIR (default: %(const)s), the mixed stores of "
        "files and memories, and the sample corpus: one table",
    )
    evaluate.add_argument(
        "--only", action="append", default=[], metavar="NAME", help="--suite: only this dataset (repeatable)"
    )
    evaluate.add_argument(
        "--plot", metavar="FILE", help="--suite: also draw the table as a PNG (needs matplotlib)"
    )
    evaluate.add_argument("--split", default="test", help="BEIR qrels split (default: test)")
    _config_options(evaluate)
    evaluate.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="KEY=V1,V2,...",
        help="sweep a config key, e.g. --grid embedder.pooling=mean,cls (repeatable: the product is run)",
    )
    evaluate.add_argument(
        "--documents",
        choices=["auto", "whole", "chunked"],
        default="auto",
        help="embed documents whole or chunked (auto: whole for BEIR, chunked for document QA)",
    )
    evaluate.add_argument(
        "--search",
        choices=["chroma", "exact"],
        default="chroma",
        help="chroma: index into a separate collection (STORE_PATH/eval-collections) and query it; "
        "exact: exact cosine in numpy, as the BEIR reference figures (default: chroma)",
    )
    evaluate.add_argument("--queries", type=int, metavar="N", help="only the first N judged queries")
    evaluate.add_argument(
        "--distractors", type=int, metavar="N", help="keep the relevant documents and only N random others"
    )
    evaluate.add_argument("--no-cache", action="store_true", help="recompute even if results are cached")
    evaluate.add_argument("--cache-dir", metavar="DIR", help="result cache (default: STORE_PATH/eval-cache)")
    _quiet_option(evaluate)

    trainer = commands.add_parser(
        "train-pooling",
        help="train an attention pooling head or a query adapter on a dataset's judged queries",
    )
    trainer.add_argument(
        "--dataset", required=True, metavar="PATH", help="BEIR folder, or folder with qna_data.csv and docs/"
    )
    trainer.add_argument("--split", default="train", help="BEIR qrels split to train on (default: train)")
    trainer.add_argument(
        "--dev-fraction",
        type=float,
        default=0.2,
        metavar="F",
        help="share of the judged queries held out to choose the epoch on (default: 0.2)",
    )
    trainer.add_argument("--out", required=True, metavar="FILE", help="the safetensors file to write")
    trainer.add_argument(
        "--kind",
        choices=["head", "adapter"],
        default="head",
        help="head: embedder.pooling attention (re-index with it); adapter: embedder.query_adapter, a map "
        "on query vectors only (no re-indexing) (default: head)",
    )
    trainer.add_argument("--seed", type=int, default=0, help="the same seed gives the same file (default: 0)")
    trainer.add_argument("--epochs", type=int, default=10, help="at most this many epochs (default: 10)")
    trainer.add_argument(
        "--cache-dir",
        metavar="DIR",
        help="where the encoder's token vectors are kept between runs (default: STORE_PATH/token-cache)",
    )
    _config_options(trainer)
    _quiet_option(trainer)
    return parser


def _load_config(args: argparse.Namespace) -> Any:
    from rag_index.config import load_config

    return load_config(args.config, args.overrides)


def _rag_index(args: argparse.Namespace) -> Any:
    from rag_index.api import RagIndex

    return RagIndex(_load_config(args), checkpoint=args.checkpoint)


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False))


def cmd_index(args: argparse.Namespace) -> int:
    """Index a folder and print the summary."""
    index = _rag_index(args)
    if args.wait < 0:
        raise UsageError(f"--wait: expected a number of seconds >= 0, got {args.wait}")
    if args.recreate:
        texts = index.text_count()
        if texts:  # said before the collection goes: texts, unlike files, cannot be indexed again
            print(f"rag-index: --recreate drops {texts} text(s) added with `rag-index add`", file=sys.stderr)
    progress = _progress(args)
    report = index.index(
        args.path, recreate=args.recreate, prune=not args.no_prune, wait=args.wait, progress=progress
    )
    if args.json:
        _print_json(report.to_dict())
    else:
        print(
            f"indexed {report.files_indexed} file(s), {report.chunks_written} chunk(s) "
            f"({report.chunks_embedded} embedded) into {report.collection!r} at "
            f"{report.store} in {report.seconds:.1f} s; {report.files_unchanged} unchanged, "
            f"{report.files_removed} removed ({report.chunks_deleted} chunk(s) deleted)"
        )
        if report.texts_dropped:
            print(f"dropped {report.texts_dropped} text(s) added with `rag-index add`")
        if report.chunks_truncated:
            print(f"warning: {report.chunks_truncated} chunk(s) were truncated to embedder.max_length")
        for skipped in report.skipped:
            print(f"skipped {skipped.path}: {skipped.reason}")
    return 1 if args.strict and report.skipped else 0


def cmd_query(args: argparse.Namespace) -> int:
    """Print the chunks that best answer a question."""
    index = _rag_index(args)
    if args.k is not None and args.k < 1:
        raise UsageError(f"-k: expected a positive number, got {args.k}")
    results = index.search(args.text, k=args.k)
    if args.json:
        _print_json([{"id": r.id, "score": r.score, "text": r.text, "metadata": r.metadata} for r in results])
        return 0
    for rank, result in enumerate(results, 1):
        page = f" p.{result.metadata['page']}" if "page" in result.metadata else ""
        preview = " ".join(result.text.split())[:200]
        around = _neighbours_note(result.id, result.metadata)
        print(
            f"{rank}. [{result.score:.3f}] {result.metadata.get('source', '?')}{page}{around}\n   {preview}"
        )
    return 0


def _neighbours_note(id_: str, metadata: dict[str, Any]) -> str:
    """' (+2 neighbouring chunks, 1 hit merged)' when neighbour expansion widened a hit, else ''."""
    from rag_index.search.neighbours import CONTEXT_IDS, MERGED_IDS

    merged = metadata.get(MERGED_IDS) or []
    added = [i for i in metadata.get(CONTEXT_IDS) or [] if i != id_ and i not in merged]
    if not added and not merged:
        return ""
    note = f"+{len(added)} neighbouring chunk{'s' * (len(added) != 1)}"
    return f" ({note}, {len(merged)} hit{'s' * (len(merged) != 1)} merged)" if merged else f" ({note})"


def cmd_info(args: argparse.Namespace) -> int:
    """Describe the collection without loading the model."""
    info = _rag_index(args).info()
    if args.json:
        _print_json(info)
    else:
        print(f"collection {info['collection']!r} at {info['path']}: {info['chunks']} chunk(s)")
        if info["lexical_chunks"] is not None:
            print(f"lexical index: {info['lexical_chunks']} chunk(s)")
        print(f"texts added with `rag-index add`: {info['texts']}")
        print(f"fingerprint: {json.dumps(info['fingerprint'], sort_keys=True)}")
        for source, count in info["sources"].items():
            print(f"  {count:6d}  {source}")
    return 0


def _meta_value(item: str) -> tuple[str, Any]:
    key, sep, value = item.partition("=")
    if not sep or not key:
        raise UsageError(f"--meta: expected KEY=VALUE, got {item!r}")
    try:
        parsed = json.loads(value)
    except ValueError:
        return key, value
    return key, parsed if isinstance(parsed, int | float | bool) else value


def _stdin_texts() -> tuple[list[str], list[dict[str, Any] | None], list[str | None]]:
    """Texts from JSON lines on stdin: {"text": ..., "id": optional, "metadata": optional object}."""
    texts: list[str] = []
    metadatas: list[dict[str, Any] | None] = []
    ids: list[str | None] = []
    for number, raw in enumerate(sys.stdin.buffer, 1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise UsageError(
                f"stdin line {number}: not UTF-8 (byte {raw[err.start]:#04x} at {err.start})"
            ) from None
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as err:
            raise UsageError(f"stdin line {number}: not JSON ({err})") from None
        if not isinstance(row, dict) or not isinstance(row.get("text"), str):
            raise UsageError(f'stdin line {number}: expected an object with a "text" string')
        unknown = sorted(set(row) - {"text", "id", "metadata"})
        if unknown:
            raise UsageError(f"stdin line {number}: unknown key(s) {', '.join(unknown)} (text, id, metadata)")
        if row.get("id") is not None and not isinstance(row["id"], str | int):
            raise UsageError(f'stdin line {number}: "id" must be a string')
        if not isinstance(row.get("metadata") or {}, dict):
            raise UsageError(f'stdin line {number}: "metadata" must be an object')
        texts.append(row["text"])
        ids.append(None if row.get("id") is None else str(row["id"]))
        metadatas.append(row.get("metadata"))
    return texts, metadatas, ids


def cmd_add(args: argparse.Namespace) -> int:
    """Add texts (from the command line, or JSON lines on stdin) and print their ids."""
    if args.wait < 0:
        raise UsageError(f"--wait: expected a number of seconds >= 0, got {args.wait}")
    if args.texts == ["-"]:
        if args.ids or args.meta:
            raise UsageError(
                "--id and --meta apply to texts on the command line; give them in the JSON lines"
            )
        texts, metadatas, ids = _stdin_texts()
    elif "-" in args.texts:
        raise UsageError("- (read stdin) must be the only TEXT")
    else:
        texts = args.texts
        if args.ids and len(args.ids) != len(texts):
            raise UsageError(f"--id: expected one per text ({len(texts)}), got {len(args.ids)}")
        meta = dict(_meta_value(item) for item in args.meta)
        metadatas = [meta or None] * len(texts)
        ids = list(args.ids) or [None] * len(texts)
    added = _rag_index(args).add_texts(texts, metadatas, ids, wait=args.wait)
    if args.json:
        _print_json({"ids": added})
    else:
        for id_ in added:
            print(id_)
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    """Delete texts by id; ids that are no text are reported (deleting is idempotent: exit 0)."""
    if args.wait < 0:
        raise UsageError(f"--wait: expected a number of seconds >= 0, got {args.wait}")
    deleted = _rag_index(args).delete(args.ids, wait=args.wait)
    missing = [id_ for id_ in dict.fromkeys(args.ids) if id_ not in deleted]
    if args.json:
        _print_json({"deleted": deleted, "not_found": missing})
    else:
        print(f"deleted {len(deleted)} text(s)")
        for id_ in missing:
            print(f"not found: {id_}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    """Score retrieval on a dataset for each point of a config grid and print the metrics."""
    from rag_index.evaluation import (
        DatasetError,
        EvalCache,
        EvalError,
        evaluate_points,
        grid_points,
        load_dataset,
        subset,
    )

    if args.suite is not None:
        return _eval_suite(args)
    if args.plot is not None:
        raise UsageError("--plot applies to --suite (a dataset's grid is charted in the notebooks)")
    if args.queries is not None and args.queries < 1:
        raise UsageError(f"--queries: expected a positive number, got {args.queries}")
    if args.distractors is not None and args.distractors < 0:
        raise UsageError(f"--distractors: expected 0 or more, got {args.distractors}")
    try:
        points = grid_points(args.config, args.overrides, args.grid)
        config = points[0].config
        dataset = load_dataset(args.dataset, args.split, config.loader.pdf_backend)
        if args.queries is not None or args.distractors is not None:
            dataset = subset(dataset, args.queries, args.distractors)
        cache = None if args.no_cache else EvalCache(args.cache_dir or Path(config.store.path) / "eval-cache")
        whole = {"auto": None, "whole": True, "chunked": False}[args.documents]
        report = evaluate_points(dataset, points, whole, cache, progress=not args.quiet, search=args.search)
    except (DatasetError, EvalError) as err:
        raise UsageError(str(err)) from None
    if args.json:
        _print_json(report.to_dict())
    else:
        print(report.describe())
        print(report.table())
    return 0


def _eval_suite(args: argparse.Namespace) -> int:
    """rag-index eval --suite: every dataset found, one table (or one JSON object)."""
    from rag_index.evaluation import EvalCache, EvalError, grid_points
    from rag_index.evaluation.suite import run_suite, sample_folder

    for option in ("queries", "distractors"):
        if getattr(args, option) is not None:
            raise UsageError(f"--{option} applies to --dataset, not --suite")
    if args.documents != "auto" or args.search != "chroma":
        raise UsageError("--documents and --search apply to --dataset; the suite searches as users do")
    if (
        args.plot is not None and importlib.util.find_spec("matplotlib") is None
    ):  # before a long run, not after
        raise UsageError("--plot needs matplotlib: pip install 'rag-index[notebooks]'")
    datasets = Path(args.suite)
    if not datasets.is_dir():
        raise UsageError(f"--suite {datasets}: no such folder (the shared datasets: ../shared/datasets)")
    try:
        points = grid_points(args.config, args.overrides, args.grid)
        root = Path(points[0].config.store.path)
        cache = None if args.no_cache else EvalCache(args.cache_dir or root / "eval-cache")
        report = run_suite(datasets, points, root, cache, not args.quiet, sample_folder(), args.only)
    except EvalError as err:
        raise UsageError(str(err)) from None
    if args.plot is not None:
        from rag_index.evaluation.plots import suite_chart

        suite_chart(report).figure.savefig(args.plot, dpi=100)
    if args.json:
        _print_json(report.to_dict())
    else:
        print(report.table())
    return 0


def cmd_train_pooling(args: argparse.Namespace) -> int:
    """Train a pooling head or query adapter and write it to --out, printing dev figures per epoch."""
    from rag_index.evaluation import DatasetError, load_dataset
    from rag_index.training.run import train_pooling
    from rag_index.training.trainer import TrainSettings

    if args.epochs < 1:
        raise UsageError(f"--epochs: expected 1 or more, got {args.epochs}")
    out = Path(args.out)
    if out.is_dir():
        raise UsageError(f"--out {out}: is a folder; give a file name such as head.safetensors")
    try:  # before minutes of training, not after
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UsageError(f"--out {out}: cannot write ({err.strerror})") from None
    config = _load_config(args)
    try:
        dataset = load_dataset(args.dataset, args.split, config.loader.pdf_backend)
    except DatasetError as err:
        raise UsageError(str(err)) from None
    settings = TrainSettings(kind=args.kind, seed=args.seed, epochs=args.epochs)
    cache_dir = Path(args.cache_dir) if args.cache_dir else Path(config.store.path) / "token-cache"
    say = (lambda line: print(line, file=sys.stderr)) if args.json else print
    try:
        report = train_pooling(
            config, dataset, out, settings, cache_dir, args.dev_fraction, say, progress=not args.quiet
        )
    except OSError as err:  # --out or the cache folder cannot be written
        raise UsageError(f"{err.filename or out}: cannot write ({err.strerror})") from None
    if args.json:
        _print_json(report.to_dict())
    else:
        best = report.result.best
        key = "embedder.attention_head" if args.kind == "head" else "embedder.query_adapter"
        print(
            f"wrote {out} ({out.stat().st_size} bytes): epoch {best.epoch}, dev nDCG@10 {best.dev:.4f} "
            f"against mean's {report.result.mean_dev:.4f} ({report.dev_queries} dev queries, "
            f"{report.train_queries} train); cache {report.cache_seconds} s, "
            f"training {report.train_seconds} s"
        )
        extra = " --set embedder.pooling=attention" if args.kind == "head" else ""
        print(f"use it with: --set {key}={out}{extra}")
    return 0


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve the configured collection over HTTP until stopped (SIGTERM or Ctrl-C; in-flight calls finish)."""
    try:
        import uvicorn

        from rag_index.server.auth import read_tokens
        from rag_index.server.http import create_app
    except ImportError as err:
        raise UsageError(f"serving needs the server extra: pip install 'rag-index[server]' ({err})") from None
    if not 0 < args.port < 65536:
        raise UsageError(f"--port: expected 1-65535, got {args.port}")
    tokens = read_tokens(Path(args.token_file)) if args.token_file else None
    if tokens is None and args.host not in LOOPBACK:
        raise UsageError(
            f"--host {args.host}: binding beyond loopback needs --token-file (anyone who reaches it could "
            "read and write every text)"
        )
    index = _rag_index(args)
    index.create()  # a new store serves memories from the first request on
    index.embedder  # noqa: B018 (load the model now, not on the first request)
    access = "bearer tokens required" if tokens else "no token: loopback only"
    print(
        f"rag-index: serving {index.config.store.collection!r} on http://{args.host}:{args.port} ({access})"
    )
    # uvicorn finishes the requests in flight on SIGTERM, then raises the signal again with the handlers it
    # found: this one makes that a clean exit 0 (a service manager's stop), as Ctrl-C stays 130.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    uvicorn.run(create_app(index, tokens, args.host), host=args.host, port=args.port, log_level="warning")
    return 0


def cmd_mcp(args: argparse.Namespace) -> int:
    """Serve the configured collection as MCP tools over stdio until the client closes it."""
    try:
        from rag_index.server.mcp import create_mcp
        from rag_index.server.service import Service
    except ImportError as err:
        raise UsageError(f"MCP needs the server extra: pip install 'rag-index[server]' ({err})") from None
    index = _rag_index(args)
    index.create()
    create_mcp(Service(index)).run("stdio")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    """Reconcile the manifest with the store; with --repair, fix the drift."""
    index = _rag_index(args)
    if args.wait < 0:
        raise UsageError(f"--wait: expected a number of seconds >= 0, got {args.wait}")
    drift, after = index.verify(repair=args.repair, wait=args.wait)
    if args.json:
        _print_json({**drift.to_dict(), "after_repair": after.to_dict() if after else None})
    else:
        print(
            f"collection {drift.collection!r}: {drift.chunks_in_store} chunk(s) in the store, "
            f"{drift.sources_in_manifest} source(s) in the manifest"
        )
        for source, ids in drift.missing.items():
            print(f"drift: {source}: {len(ids)} chunk(s) missing from the store")
        if drift.stray:
            print(f"drift: {len(drift.stray)} chunk(s) in the store that no source in the manifest claims")
        for source in drift.incomplete:
            print(f"drift: {source}: its last write was interrupted")
        for source in drift.outdated:
            print(f"drift: {source}: indexed with other loader or chunking settings")
        if drift.lexical_damaged:
            print(f"drift: {drift.lexical_damaged}")
        elif drift.lexical_stale:
            print("drift: the lexical index is incomplete or was built for another collection or settings")
        for source, ids in drift.lexical_missing.items():
            print(f"drift: {source}: {len(ids)} chunk(s) missing from the lexical index")
        if drift.lexical_stray:
            print(f"drift: {len(drift.lexical_stray)} chunk(s) in the lexical index that no source claims")
        if drift.ok:
            print("ok: the manifest and the store agree")
        elif after is not None:
            print(
                f"repaired: deleted {len(drift.stray)} stray chunk(s), re-indexed "
                f"{len(drift.to_reindex)} source(s); " + ("now ok" if after.ok else "drift remains")
            )
    final = after or drift
    return 0 if final.ok else 1


COMMANDS = {
    "index": cmd_index,
    "add": cmd_add,
    "delete": cmd_delete,
    "query": cmd_query,
    "info": cmd_info,
    "eval": cmd_eval,
    "train-pooling": cmd_train_pooling,
    "serve": cmd_serve,
    "mcp": cmd_mcp,
    "verify": cmd_verify,
}


def main(argv: Sequence[str] | None = None, checkpoint: Callable[[str], None] | None = None) -> int:
    """Entry point of the `rag-index` console script (checkpoint: see rag_index.storage.writer)."""
    from rag_index.errors import RagIndexError
    from rag_index.storage.writer import no_checkpoint

    args = _parser().parse_args(argv)
    args.checkpoint = checkpoint or no_checkpoint
    # The CLI draws its own progress bars; set before transformers is imported (only if a model loads).
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    # The encoder owns the cores: the tokenizer's own thread pool would only compete with it.
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING, format="%(levelname)s: %(message)s"
    )
    try:
        return COMMANDS[args.command](args)
    except (UsageError, RagIndexError) as err:
        print(f"rag-index: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rag-index: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader of the output left (`| head`): nothing went wrong here
        # Python would report the pipe again when it flushes stdout at exit: flush into /dev/null instead.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE: what the shell shows for a process the closed pipe stopped


if __name__ == "__main__":
    sys.exit(main())
