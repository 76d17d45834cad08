"""``cues preprocess``: scores → tokenised, labelled, split training shards in the store, in parallel on Ray Data.

Layout under ``datasets/<name>/<version>/``::

    parts/<chunk>.jsonl.gz        every work's result (row or drop reason), one file per chunk of works: the cache
                                  that lets an interrupted run resume where it stopped
    melody/<split>/part-NNNN.parquet   one row per melody (train also has transposed copies)
    chords/<split>/part-NNNN.parquet   one row per chorale with its chord progression
    dropped.parquet               every work not kept, with its reason
    card.json, card.md            the dataset card
    _COMPLETE                     written last; a version without it is never used

The version is a hash of the inputs (every work's id and content), the options that change the output and the
preprocessing code version, so a re-run with the same inputs finds the finished version and returns at once.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from cues.pipelines.music.melody_tokens import FIRST_NOTE, HIGH, LOW
from cues.pipelines.preprocess.card import build_card, render_card
from cues.pipelines.preprocess.dataset import SplitFractions, assign_split, deduplicate, transpose
from cues.pipelines.preprocess.sources import Work, resolve_sources
from cues.pipelines.preprocess.work import WorkDropped, process_work
from cues.pipelines.ray_runtime import init_ray
from cues.pipelines.store import ObjectStore, open_store
from cues.schemas.brief import canonical_hash
from cues.schemas.config import PreprocessConfig

log = logging.getLogger(__name__)

PREPROCESS_VERSION = "preprocess-2"  # bump when the representation or the rules change: it changes every version
SHARD_ROWS = 4000
COMPLETE = "_COMPLETE"


@dataclass(frozen=True)
class DatasetResult:
    """Where the dataset is, and whether this run built it or found it complete."""

    uri: str
    prefix: str
    version: str
    card: dict
    cached: bool
    seconds: float


def dataset_version(config: PreprocessConfig, works: list[Work]) -> str:
    options = config.model_dump(
        include={
            "include_noncommercial",
            "steps_per_quarter",
            "transpositions",
            "train_fraction",
            "validation_fraction",
        }
    )
    inputs = [(w.source_id, w.sha256) for w in works]
    return "v-" + canonical_hash({"code": PREPROCESS_VERSION, "options": options, "inputs": inputs})[:12]


def gather_works(config: PreprocessConfig) -> list[Work]:
    """Every work of every source, at most ``limit`` per source, in a stable order."""
    works: list[Work] = []
    for source in config.sources:
        taken = 0
        for work in resolve_sources((source,), config.include_noncommercial):
            if config.limit and taken >= config.limit:
                break
            works.append(work)
            taken += 1
    return works


# --- the parallel part: one Ray Data task per chunk of works ------------------------------------------------------


def process_chunk(chunk: dict, steps_per_quarter: int) -> list[dict]:
    """Every work of a chunk → a result record (kept row or drop reason). Pure apart from the parser's CPU time."""

    results = []
    for source_id, collection, fmt, payload in zip(
        chunk["source_ids"], chunk["collections"], chunk["formats"], chunk["payloads"], strict=True
    ):
        base = {"source_id": source_id, "collection": collection, "format": fmt}
        try:
            row = process_work(fmt, payload, steps_per_quarter=steps_per_quarter)
            results.append({**base, "status": "kept", "row": row})
        except WorkDropped as drop:
            extra = getattr(drop, "extra", None) or {}
            results.append({**base, "status": "dropped", "reason": drop.reason, "detail": drop.detail, **extra})
        except Exception as err:  # a parser bug on one work must not lose the chunk
            results.append({**base, "status": "dropped", "reason": "internal_error", "detail": repr(err)[:300]})
    return results


class ChunkProcessor:
    """Ray Data batch function: process chunks and store each chunk's results as a part (the resume cache)."""

    def __init__(self, store: ObjectStore, prefix: str, steps_per_quarter: int):
        self.store, self.prefix, self.steps = store, prefix, steps_per_quarter

    def __call__(self, batch: dict) -> dict:
        kept, dropped = [], []
        for i, chunk_id in enumerate(batch["chunk_id"]):
            chunk = {k: list(batch[k][i]) for k in ("source_ids", "collections", "formats", "payloads")}
            results = process_chunk(chunk, self.steps)
            lines = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in results)
            self.store.put_bytes(f"{self.prefix}/parts/{chunk_id}.jsonl.gz", gzip.compress(lines.encode(), 6))
            kept.append(sum(r["status"] == "kept" for r in results))
            dropped.append(len(results) - kept[-1])
        return {"chunk_id": list(batch["chunk_id"]), "kept": kept, "dropped": dropped}


def chunk_works(works: list[Work], size: int) -> list[dict]:
    chunks = []
    for start in range(0, len(works), size):
        group = works[start : start + size]
        chunks.append(
            {
                "chunk_id": canonical_hash([(w.source_id, w.sha256) for w in group])[:16],
                "source_ids": [w.source_id for w in group],
                "collections": [w.collection for w in group],
                "formats": [w.format for w in group],
                "payloads": [w.payload for w in group],
            }
        )
    return chunks


def process_on_ray(
    chunks: list[dict], store: ObjectStore, prefix: str, config: PreprocessConfig, on_progress=None
) -> None:
    """Run the chunks that have no part yet as Ray Data tasks (``config.workers`` at a time)."""
    import ray
    import ray.data

    init_ray(config.ray.address, num_cpus=config.ray.num_cpus, dashboard=config.ray.dashboard)
    cluster_cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
    workers = config.workers or cluster_cpus
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # the CLI draws its own bar
    context.verbose_stats_logs = False
    dataset = ray.data.from_items(chunks, override_num_blocks=len(chunks)).map_batches(
        ChunkProcessor,
        fn_constructor_args=(store, prefix, config.steps_per_quarter),
        batch_size=1,
        compute=ray.data.ActorPoolStrategy(size=workers),
        num_cpus=1 if workers < cluster_cpus else 0.9,
    )
    for row in dataset.iter_rows():
        if on_progress:
            on_progress(int(row["kept"]) + int(row["dropped"]))


def read_parts(store: ObjectStore, prefix: str, chunks: list[dict]) -> list[dict]:
    results = []
    for chunk in chunks:
        data = gzip.decompress(store.get_bytes(f"{prefix}/parts/{chunk['chunk_id']}.jsonl.gz"))
        results.extend(json.loads(line) for line in data.decode().splitlines())
    return results


# --- the driver part: dedupe, split, augment, write ----------------------------------------------------------------


def build_tables(results: list[dict], config: PreprocessConfig) -> tuple[dict[str, list[dict]], dict, list[dict]]:
    """Melody and chord rows per split, the dedup map, and the dropped works."""

    kept = [
        {"source_id": r["source_id"], "collection": r["collection"], **r["row"]}
        for r in results
        if r["status"] == "kept"
    ]
    dropped = [
        {k: r.get(k) for k in ("source_id", "collection", "format", "reason", "detail")}
        | {"on_grid_12": r.get("on_grid_12")}
        for r in results
        if r["status"] == "dropped"
    ]
    unique = deduplicate(kept)
    collection_of = {r["source_id"]: r["collection"] for r in kept}
    for source_id, first in unique.duplicates.items():
        dropped.append(
            {
                "source_id": source_id,
                "collection": collection_of[source_id],
                "format": None,
                "reason": "duplicate",
                "detail": f"same melody and meter as {first}",
                "on_grid_12": None,
            }
        )
    fractions = SplitFractions(
        config.train_fraction, config.validation_fraction, 1 - config.train_fraction - config.validation_fraction
    )
    tables: dict[str, list[dict]] = {f"melody/{s}": [] for s in ("train", "validation", "test")}
    tables |= {f"chords/{s}": [] for s in ("train", "validation", "test")}
    for row in unique.rows:
        split = assign_split(row["source_id"], fractions)
        melody = {
            k: v for k, v in row.items() if k not in {"chord_tokens", "chord_labels", "cadences", "beats_per_bar"}
        }
        tables[f"melody/{split}"].append({**melody, "split": split, "transpose": 0})
        if split == "train":
            for semitones in config.transpositions:
                if semitones:
                    shifted = transpose(melody, semitones, low=LOW, high=HIGH, first_note_token=FIRST_NOTE)
                    if shifted is not None:
                        tables["melody/train"].append({**shifted, "split": split})
        if row.get("chord_tokens"):
            tables[f"chords/{split}"].append(
                {
                    k: row[k]
                    for k in (
                        "source_id",
                        "collection",
                        "tonic",
                        "tonic_name",
                        "mode",
                        "meter",
                        "beats_per_bar",
                        "chord_tokens",
                        "chord_labels",
                        "cadences",
                    )
                }
                | {"split": split}
            )
    return tables, unique.duplicates, dropped


def parquet_bytes(rows: list[dict]) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), buffer, compression="zstd")
    return buffer.getvalue()


def run(config: PreprocessConfig, on_progress: Callable[[int, int], None] | None = None) -> DatasetResult:
    """Build the dataset (or find it complete). ``on_progress(done, total)`` counts works."""

    started = time.monotonic()
    store = open_store(config.store)
    works = gather_works(config)
    version = dataset_version(config, works)
    prefix = f"datasets/{config.name}/{version}"
    if store.exists(f"{prefix}/{COMPLETE}"):
        card = json.loads(store.get_bytes(f"{prefix}/card.json"))
        return DatasetResult(store.uri, prefix, version, card, True, time.monotonic() - started)

    chunks = chunk_works(works, config.chunk_size)
    cached = {key.rsplit("/", 1)[-1].removesuffix(".jsonl.gz") for key in store.list(f"{prefix}/parts/")}
    todo = [c for c in chunks if c["chunk_id"] not in cached]
    done = sum(len(c["source_ids"]) for c in chunks if c["chunk_id"] in cached)
    if on_progress:
        on_progress(done, len(works))
    if todo:

        def advance(count: int) -> None:
            nonlocal done
            done += count
            if on_progress:
                on_progress(done, len(works))

        process_on_ray(todo, store, prefix, config, advance)

    tables, duplicates, dropped = build_tables(read_parts(store, prefix, chunks), config)
    files = []
    for table, rows in tables.items():
        for index, start in enumerate(range(0, max(len(rows), 1), SHARD_ROWS)):
            shard = rows[start : start + SHARD_ROWS]
            if not shard:
                continue
            put = store.put_bytes(f"{prefix}/{table}/part-{index:04d}.parquet", parquet_bytes(shard))
            files.append({"key": put.key, "rows": len(shard), "bytes": put.size, "sha256": put.sha256})
    if dropped:
        put = store.put_bytes(f"{prefix}/dropped.parquet", parquet_bytes(dropped))
        files.append({"key": put.key, "rows": len(dropped), "bytes": put.size, "sha256": put.sha256})
    card = build_card(config, version, works, tables, dropped, files, seconds=time.monotonic() - started)
    store.put_bytes(f"{prefix}/card.json", json.dumps(card, indent=2).encode(), content_type="application/json")
    store.put_bytes(f"{prefix}/card.md", render_card(card).encode(), content_type="text/markdown")
    store.put_bytes(f"{prefix}/{COMPLETE}", json.dumps({"version": version, "files": files}).encode())
    return DatasetResult(store.uri, prefix, version, card, False, time.monotonic() - started)
