"""Training a learned pooling on cached token vectors: InfoNCE, mined hard negatives, early stop on dev.

The head pools queries and units alike, so each step pools the batch's queries, one relevant unit of each,
and hard negatives (mined once from the mean-pooled index); the other queries' units are in-batch
negatives. The adapter maps queries only against fixed mean-pooled units, so each step scores every unit
of the corpus: in-batch and mined negatives are all in that softmax, at the cost of one matrix product.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from rag_index.embed.learned import AttentionHead, QueryAdapter
from rag_index.embed.pooling import POOLING, TOKEN_WEIGHTED, PoolingFn, mean
from rag_index.evaluation.metrics import ndcg
from rag_index.index.progress import Meter
from rag_index.training.data import Judgments
from rag_index.training.tokens import TokenVectors

KINDS = ("head", "adapter")
DEV_DEPTH = 10  # nDCG@10, the figure the quality suite reports
UNIT_HEADROOM = 4  # chunks: rank 4x depth units, as a document scores its best chunk (as the eval does)


@dataclass(frozen=True)
class TrainSettings:
    """How to train; the defaults are what the SciFact runs used (docs/benchmarks/learned-pooling.md)."""

    kind: str = "head"
    seed: int = 0
    epochs: int = 10
    patience: int = 2  # epochs without a better dev figure before stopping
    batch_size: int = 32
    temperature: float = 0.05
    learning_rate: float | None = None  # None: 3e-3 for the head, 1e-3 for the adapter
    hard_negatives: int = 4  # per query and step, drawn from the mined ones
    mine_depth: int = 30  # the mean-pooled index's best non-relevant units kept as hard negatives
    max_positives: int = 3  # chunked documents: the relevant units mean pooling ranks best

    @property
    def lr(self) -> float:
        """The learning rate used."""
        return self.learning_rate or (3e-3 if self.kind == "head" else 1e-3)


@dataclass(frozen=True)
class Epoch:
    """One epoch's figures: mean training loss and dev nDCG@10 (epoch 0: before any step)."""

    epoch: int
    loss: float
    dev: float
    seconds: float


@dataclass
class TrainResult:
    """The best module on dev, the dev figure of mean pooling, and every epoch's figures."""

    module: AttentionHead | QueryAdapter
    mean_dev: float
    history: list[Epoch] = field(default_factory=list)
    fixed_dev: dict[str, float] = field(default_factory=dict)  # dev nDCG@10 of the fixed poolings compared

    @property
    def best(self) -> Epoch:
        """The epoch whose module was kept (the first of the best, so epoch 0 when nothing improved)."""
        return max(self.history, key=lambda e: (e.dev, -e.epoch))


def pool_all(
    vectors: TokenVectors, pool: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
) -> torch.Tensor:
    """Normalized pooled vectors [texts, H] of every text, in order."""
    out = torch.empty(len(vectors), vectors.states.shape[1])
    with torch.no_grad():
        for rows in vectors.blocks():
            states, mask, ids = vectors.batch(rows.tolist())
            out[torch.from_numpy(rows)] = F.normalize(pool(states, mask, ids), dim=1)
    return out


def mean_pool(states: torch.Tensor, mask: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """Mean pooling with the signature of a head."""
    return mean(states, mask)


def dev_ndcg(
    queries: torch.Tensor, units: torch.Tensor, qids: Sequence[str], unit_docs: Sequence[str], qrels: dict
) -> float:
    """Mean nDCG@10 of queries ([Q, H], for qids) over units, a document scoring its best unit."""
    depth = min(len(units), DEV_DEPTH * (UNIT_HEADROOM if len(set(unit_docs)) < len(unit_docs) else 1))
    top = (queries @ units.T).topk(depth, dim=1).indices.tolist()
    scores = []
    for qid, rows in zip(qids, top, strict=True):
        ranked: list[str] = []
        for row in rows:
            if unit_docs[row] not in ranked:
                ranked.append(unit_docs[row])
        scores.append(ndcg(ranked[:DEV_DEPTH], qrels[qid], DEV_DEPTH))
    return float(np.mean(scores))


def _info_nce(scores: torch.Tensor, positive: torch.Tensor, temperature: float) -> torch.Tensor:
    # Several relevant units may be among the candidates: all count as positives (their probabilities add).
    logits = scores / temperature
    return (logits.logsumexp(1) - logits.masked_fill(~positive, float("-inf")).logsumexp(1)).mean()


def train(
    queries: TokenVectors,
    query_ids: Sequence[str],
    units: TokenVectors,
    judgments: Judgments,
    qrels: dict[str, dict[str, int]],
    settings: TrainSettings,
    vocab_size: int,
    say: Callable[[str], None] = print,
    progress: bool = True,
    compare: Sequence[str] = (),
) -> TrainResult:
    """Train settings.kind on the train queries, keep the state best on dev; say one line per epoch.

    compare: fixed poolings (registry names such as cls, weighted_mean) whose dev figures are reported too.
    """
    if settings.kind not in KINDS:
        raise ValueError(f"--kind {settings.kind!r}: expected one of {', '.join(KINDS)}")
    torch.manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    row_of = {qid: i for i, qid in enumerate(query_ids)}
    dimension = int(units.states.shape[1])
    started = time.perf_counter()
    mean_units = pool_all(units, mean_pool)
    mean_queries = pool_all(queries, mean_pool)
    dev_rows = [row_of[q] for q in judgments.dev]
    mean_dev = dev_ndcg(mean_queries[dev_rows], mean_units, judgments.dev, judgments.unit_docs, qrels)
    positives, negatives = _mine(mean_queries, mean_units, judgments, row_of, settings)
    module: AttentionHead | QueryAdapter
    module = AttentionHead(dimension, vocab_size) if settings.kind == "head" else QueryAdapter(dimension)
    optimizer = torch.optim.Adam(module.parameters(), lr=settings.lr)

    def evaluate() -> float:
        module.eval()
        with torch.no_grad():
            if isinstance(module, QueryAdapter):
                dev_queries, dev_units = module.adapt(mean_queries[dev_rows], True), mean_units
            else:
                dev_queries = F.normalize(module(*queries.batch(dev_rows)), dim=1)
                dev_units = pool_all(units, module)
        return dev_ndcg(dev_queries, dev_units, judgments.dev, judgments.unit_docs, qrels)

    result = TrainResult(module, mean_dev)
    result.fixed_dev["mean"] = mean_dev
    for name in compare:
        if name not in POOLING or name in TOKEN_WEIGHTED:  # those need weights from the embedder
            raise ValueError(f"compare: {name!r} is not a fixed pooling of the registry")
        fixed = POOLING[name]

        def pool(s: torch.Tensor, m: torch.Tensor, i: torch.Tensor, fixed: PoolingFn = fixed) -> torch.Tensor:
            return fixed(s, m)

        fixed_queries = pool_all(queries, pool)[dev_rows]
        result.fixed_dev[name] = dev_ndcg(
            fixed_queries, pool_all(units, pool), judgments.dev, judgments.unit_docs, qrels
        )
    best_state = {k: v.clone() for k, v in module.state_dict().items()}
    result.history.append(Epoch(0, float("nan"), evaluate(), round(time.perf_counter() - started, 1)))
    say(f"epoch 0: dev nDCG@10 mean {mean_dev:.4f}, learned {result.history[0].dev:.4f} (identity start)")
    for epoch in range(1, settings.epochs + 1):
        module.train()
        order = rng.permutation(len(judgments.train))
        losses = []
        steps = range(0, len(order), settings.batch_size)
        with Meter(f"epoch {epoch}", "step", len(steps), progress) as bar:
            for start in steps:
                batch = [judgments.train[i] for i in order[start : start + settings.batch_size]]
                loss = _step(
                    module,
                    batch,
                    queries,
                    units,
                    mean_queries,
                    mean_units,
                    row_of,
                    positives,
                    negatives,
                    rng,
                    settings,
                )
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                losses.append(float(loss.detach()))
                bar.update(1)
        dev = evaluate()
        result.history.append(
            Epoch(epoch, float(np.mean(losses)), dev, round(time.perf_counter() - started, 1))
        )
        better = result.best.epoch == epoch
        if better:
            best_state = {k: v.clone() for k, v in module.state_dict().items()}
        say(
            f"epoch {epoch}: loss {np.mean(losses):.4f}, dev nDCG@10 mean {mean_dev:.4f}, learned {dev:.4f}"
            + (" (best)" if better else "")
        )
        if epoch - result.best.epoch >= settings.patience:
            say(f"stopped: no better dev figure for {settings.patience} epochs")
            break
    module.load_state_dict(best_state)
    module.eval()
    return result


def _mine(
    mean_queries: torch.Tensor,
    mean_units: torch.Tensor,
    judgments: Judgments,
    row_of: dict[str, int],
    settings: TrainSettings,
) -> tuple[dict[str, list[int]], dict[str, list[int]]]:
    """Per train query: its positives (at most max_positives, best by mean pooling) and mined negatives."""
    positives: dict[str, list[int]] = {}
    negatives: dict[str, list[int]] = {}
    for qid in judgments.train:
        query = mean_queries[row_of[qid]]
        relevant = judgments.relevant_units[qid]
        scores = mean_units[relevant] @ query
        positives[qid] = [relevant[i] for i in scores.argsort(descending=True)[: settings.max_positives]]
        relevant_docs = {judgments.unit_docs[u] for u in relevant}
        depth = min(len(mean_units), settings.mine_depth + len(relevant))
        ranked = (mean_units @ query).topk(depth).indices.tolist()
        negatives[qid] = [u for u in ranked if judgments.unit_docs[u] not in relevant_docs][
            : settings.mine_depth
        ]
    return positives, negatives


def _step(
    module: AttentionHead | QueryAdapter,
    batch: list[str],
    queries: TokenVectors,
    units: TokenVectors,
    mean_queries: torch.Tensor,
    mean_units: torch.Tensor,
    row_of: dict[str, int],
    positives: dict[str, list[int]],
    negatives: dict[str, list[int]],
    rng: np.random.Generator,
    settings: TrainSettings,
) -> torch.Tensor:
    """The InfoNCE loss of one batch of train queries."""
    rows = [row_of[q] for q in batch]
    if isinstance(module, QueryAdapter):
        candidates = list(range(len(mean_units)))
        query_vectors = module.adapt(mean_queries[rows], True)
        unit_vectors = mean_units
    else:
        chosen: set[int] = set()
        for qid in batch:
            chosen.add(int(rng.choice(positives[qid])))
            pool = negatives[qid]
            if pool:
                count = min(settings.hard_negatives, len(pool))
                chosen.update(int(u) for u in rng.choice(pool, count, replace=False))
        candidates = sorted(chosen)
        query_vectors = F.normalize(module(*queries.batch(rows)), dim=1)
        unit_vectors = F.normalize(module(*units.batch(candidates)), dim=1)
    column = {u: j for j, u in enumerate(candidates)}
    positive = torch.zeros(len(batch), len(candidates), dtype=torch.bool)
    for i, qid in enumerate(batch):
        for u in positives[qid]:
            if u in column:
                positive[i, column[u]] = True
    return _info_nce(query_vectors @ unit_vectors.T, positive, settings.temperature)
