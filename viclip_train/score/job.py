# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""
The scoring and embedding job: every row of a source ([`ScoreRows`]) scored (the cosine similarity of its clip and
its caption) or embedded, data-parallel over processes, resumable after a kill at any moment.

Output folder layout:

    index_config.json     the job's settings (task, model, protocol, source and its fingerprint, rows per chunk,
                          dtype, ...); a rerun must use the same ones (named as a moment index's, so that an
                          `embed` folder loads with `MomentIndex.load`)
    shards/00000.arrow    chunk 0: the read rows among rows [0, chunk_rows), in row order; written under a temporary
    shards/00001.arrow    name and renamed when complete, so that a shard is whole or absent
    skipped/00000.jsonl   the rows of chunk 0 that could not be read, with the reason (written before its shard)
    manifest.json         written last: the shards with their rows, the skipped count
    summary.json          rows scored, skipped, and (score) the mean, min, max and quantiles of the scores
    skipped_rows.jsonl    every skipped row (row, video, reason)
    faiss.index           (embed, with `faiss_index=True`) a flat inner-product FAISS index of `embedding`

A `score` shard holds the source's own columns, `row` (the row's position in the source) and `score`; an `embed`
shard holds the source's columns, `row`, `video`, `start`, `end` (the clip: a moment index's columns), `embedding`
(the normalised video embedding) and, if asked, `text_embedding`.

Processes: chunk `c` belongs to process `c % world_size` (ranks and world size from `torch.distributed`, else the
`RANK` / `WORLD_SIZE` variables `torchrun` and `accelerate launch` set), so processes and nodes (on a shared file
system) read disjoint rows; batches never cross chunks, so a chunk's shard is the same whichever process, and however
many, wrote it. Progress is the set of finished shards: a rerun of the same command does the missing chunks only.
After a barrier, rank 0 writes the manifest and summary (a rerun that finds every chunk done just writes them).
"""

import hashlib
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import datasets
import numpy as np
import torch
import torch.distributed as dist
from datasets.arrow_writer import ArrowWriter
from tqdm.auto import tqdm
from transformers.utils import logging

from viclip.pipeline_viclip import embed_texts, embed_videos

from ..data.clips import normalize_pixel_values
from ..moments.index import INDEX_CONFIG_NAME, SHARDS_DIR
from .rows import ScoreRowDataset, ScoreRows, collate_rows


logger = logging.get_logger(__name__)

TASKS = ("score", "embed")
SKIPPED_DIR = "skipped"
MANIFEST_NAME = "manifest.json"
SUMMARY_NAME = "summary.json"
SKIPPED_ROWS_NAME = "skipped_rows.jsonl"
FAISS_INDEX_NAME = "faiss.index"
QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
_FORMAT_VERSION = 1
# recorded in index_config.json but free to change between a run and its resumption
_FREE_SETTINGS = ("batch_size", "num_workers", "device")


def process_layout() -> tuple[int, int]:
    """`(rank, world_size)` of this process: from `torch.distributed` when initialised, else from the `RANK` and
    `WORLD_SIZE` variables that `torchrun` and `accelerate launch` set; `(0, 1)` alone."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def wait_for_all_processes() -> None:
    """A barrier across the job's processes (a no-op in one process)."""
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        dist.barrier()


def source_fingerprint(rows: ScoreRows) -> str:
    """A hash of every row's video, window and caption: a rerun on changed rows is refused."""
    digest = hashlib.sha256()
    for batch in rows.clips.with_format("arrow").iter(batch_size=65536):
        for column in batch.columns:
            for buffer in column.combine_chunks().buffers() if column.num_chunks else []:
                digest.update(b"" if buffer is None else memoryview(buffer))
    return digest.hexdigest()[:16]


@dataclass
class JobSummary:
    """What a job's output holds (all its runs together), and what this run did."""

    task: str
    output_dir: str
    rows: int
    """Rows of the source."""
    read: int = 0
    """Rows scored or embedded."""
    skipped: int = 0
    """Rows whose video could not be read (listed in `skipped_rows.jsonl` with the reason)."""
    score: dict[str, float] = field(default_factory=dict)
    """`mean`, `min`, `max` and quantiles `q01` ... `q99` of the scores (task `score`)."""
    rows_this_run: int = 0
    seconds: float = 0.0
    """Wall-clock time this process spent reading and running the model."""
    model_seconds: float = 0.0
    """Of that, time in the model (the rest is time the model waited for data)."""

    @property
    def rows_per_second(self) -> float:
        return self.rows_this_run / self.seconds if self.seconds > 0 else 0.0

    def lines(self) -> list[str]:
        """The summary as printed."""
        lines = [f"{self.task}: {self.read} of {self.rows} rows read, {self.skipped} skipped -> {self.output_dir}"]
        if self.skipped:
            lines.append(f"skipped rows, each with the reason: {Path(self.output_dir) / SKIPPED_ROWS_NAME}")
        if self.score:
            quantiles = ", ".join(f"{name}={value:.4f}" for name, value in self.score.items() if name.startswith("q"))
            score = self.score
            lines.append(f"score: mean={score['mean']:.4f} min={score['min']:.4f} max={score['max']:.4f}; {quantiles}")
        return lines


def _write_atomically(path: Path, write) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    write(temporary)
    with open(temporary, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def _write_json(path: Path, value: Any) -> None:
    _write_atomically(path, lambda temporary: temporary.write_text(json.dumps(value, indent=1) + "\n"))


def _check_settings(output_dir: Path, settings: dict[str, Any]) -> None:
    """Records the settings in a new output folder, or checks that an existing one was written with the same."""
    path = output_dir / INDEX_CONFIG_NAME
    if not path.is_file():
        _write_json(path, settings)  # every process writes the same content
        return
    found = json.loads(path.read_text(encoding="utf-8"))
    for name, value in settings.items():
        if name not in _FREE_SETTINGS and found.get(name) != json.loads(json.dumps(value)):
            raise ValueError(
                f"{output_dir} was written with {name}={found.get(name)!r}, and this run asks for {value!r}. Rerun "
                "with the same settings to continue it, or choose another --output_dir to start anew."
            )


class _ChunkWriter:
    """Collects the results of one chunk, then writes its skipped rows and its shard."""

    def __init__(self, output_dir: Path, kept: datasets.Dataset, rows: ScoreRows, task: str, text: bool):
        self.output_dir, self.kept, self.rows, self.task, self.text = output_dir, kept, rows, task, text
        self.chunk: int | None = None
        self.results: dict[str, list] = {}
        self.skipped: list[dict[str, Any]] = []

    def start(self, chunk: int) -> None:
        self.chunk, self.skipped = chunk, []
        self.results = {"row": [], "score": [], "duration": [], "embedding": [], "text_embedding": []}

    def add(self, rows: list[int], durations, video_embeds, text_embeds, skipped) -> None:
        self.skipped += [{"row": s.index, "video": s.video, "reason": s.reason, "error": s.error} for s in skipped]
        if not rows:
            return
        self.results["row"] += rows
        self.results["duration"] += durations
        if self.task == "score":
            self.results["score"] += (video_embeds * text_embeds).sum(-1).tolist()
        else:
            self.results["embedding"] += list(video_embeds.numpy())
            if self.text:
                self.results["text_embedding"] += list(text_embeds.numpy())

    def finish(self, dim: int) -> None:
        """Writes the chunk: its skipped rows, then its shard (the shard's presence marks the chunk done)."""
        if self.chunk is None:
            return
        name = f"{self.chunk:05d}"
        skipped_lines = "".join(json.dumps(entry) + "\n" for entry in sorted(self.skipped, key=lambda e: e["row"]))
        _write_atomically(self.output_dir / SKIPPED_DIR / f"{name}.jsonl", lambda t: t.write_text(skipped_lines))
        table = self._table(dim)
        _write_atomically(self.output_dir / SHARDS_DIR / f"{name}.arrow", lambda t: _write_arrow(table, t))
        self.chunk = None

    def _table(self, dim: int) -> tuple:
        """The chunk's rows in row order (an Arrow table) and their features."""
        rows = self.results["row"]
        order = np.argsort(rows, kind="stable")
        ordered = [rows[i] for i in order]
        table = self.kept.select(ordered)
        columns, features = {"row": ordered}, {"row": datasets.Value("int64")}
        if self.task == "score":
            columns["score"] = [self.results["score"][i] for i in order]
            features["score"] = datasets.Value("float32")
        else:
            clips = self.rows.clips.select(ordered)
            durations = [self.results["duration"][i] for i in order]
            columns["video"] = clips["video"] if self.rows.video_feature is None else table[self.rows.video_feature]
            columns["start"] = [0.0 if start is None else start for start in clips["start"]]
            columns["end"] = [end if end is not None else d for end, d in zip(clips["end"], durations, strict=True)]
            embedding = datasets.List(datasets.Value("float32"), length=dim)
            columns["embedding"] = [self.results["embedding"][i] for i in order]
            features.update(
                video=datasets.Value("string"),
                start=datasets.Value("float64"),
                end=datasets.Value("float64"),
                embedding=embedding,
            )
            if self.text:
                columns["text_embedding"] = [self.results["text_embedding"][i] for i in order]
                features["text_embedding"] = embedding
        kept = [name for name in table.column_names if name not in columns]  # a source column `row` is replaced
        added = datasets.Dataset.from_dict(columns, features=datasets.Features(features))
        arrays = added.data.table
        source = table.select_columns(kept).with_format("arrow")[:] if kept else None
        for position, name in enumerate(kept):
            arrays = arrays.add_column(position, source.schema.field(name), source.column(name))
        return arrays, datasets.Features({**{name: table.features[name] for name in kept}, **added.features})


def _write_arrow(table: tuple, path: Path) -> None:
    arrays, features = table
    writer = ArrowWriter(features=features, path=str(path))
    try:
        writer.write_table(arrays)
        writer.finalize()
    finally:
        writer.close()


def run_score_job(
    rows: ScoreRows,
    model: torch.nn.Module,
    processor: Any,
    output_dir: str | os.PathLike,
    *,
    task: str = "score",
    video_processor: Any = None,
    model_id: str = "",
    protocol: str = "reference",
    embed_text: bool = False,
    normalize_captions: bool = False,
    batch_size: int = 32,
    num_workers: int = 4,
    chunk_rows: int = 1024,
    faiss_index: bool = False,
    progress: bool = True,
) -> JobSummary:
    """
    Scores (`task="score"`: the cosine similarity of each row's clip and caption) or embeds (`task="embed"`) every
    row of `rows` into `output_dir` (layout in the module docstring), or continues a job that was stopped there.

    Each process reads its chunks' rows in `num_workers` DataLoader workers (decoded, sampled and resized by
    `video_processor` there, sent as uint8 in pinned memory) while the model runs here on its device, where the
    frames are normalised ([`normalize_pixel_values`]). Rows that cannot be read are skipped and listed.

    Args:
        rows ([`ScoreRows`]): the source's rows ([`load_annotation_rows`], [`load_dataset_rows`], ...).
        model ([`ViCLIPModel`]): on its device and in its dtype (e.g. bfloat16), in evaluation mode.
        processor ([`ViCLIPProcessor`]): tokenizes the captions (unchanged, or with the reference's training
            normalisation when `normalize_captions`).
        output_dir: the output folder.
        task (`str`): `"score"` or `"embed"`.
        video_processor ([`ViCLIPVideoProcessor`], *optional*): the protocol's processor; `processor`'s by default.
        model_id (`str`), protocol (`str`): recorded in the settings (a resumed job must name the same).
        embed_text (`bool`): with `task="embed"`, also the normalised caption embeddings (`text_embedding`).
        batch_size (`int`): rows per forward pass; num_workers (`int`): decoding processes (0: in this one).
        chunk_rows (`int`): rows per output shard, the unit of progress and of the split over processes.
        faiss_index (`bool`): with `task="embed"`, also write a flat inner-product FAISS index of the embeddings.
        progress (`bool`): show a progress bar (rows/s).

    Returns:
        [`JobSummary`]: of the whole output on rank 0 once every chunk is done; of this run's rows otherwise.
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}.")
    if batch_size < 1 or chunk_rows < 1 or num_workers < 0:
        raise ValueError(f"Need batch_size >= 1, chunk_rows >= 1 and num_workers >= 0, got {batch_size}, "
                         f"{chunk_rows}, {num_workers}.")  # fmt: skip
    needs_captions = task == "score" or embed_text
    if needs_captions and not rows.has_captions():
        raise ValueError(
            f"Some rows of {rows.source} have no caption, which {'a score' if task == 'score' else 'embed_text'} "
            "needs: name the caption column (--caption_column), or use --task embed without --embed_text."
        )
    video_processor = video_processor or processor.video_processor
    device = next(model.parameters()).device
    rank, world_size = process_layout()
    output_dir = Path(output_dir)
    for folder in (SHARDS_DIR, SKIPPED_DIR):
        (output_dir / folder).mkdir(parents=True, exist_ok=True)
    settings = {
        "format_version": _FORMAT_VERSION,
        "task": task,
        "model": str(model_id),
        "protocol": protocol,
        "num_frames": int(video_processor.num_frames),
        "source": rows.source,
        "rows": len(rows),
        "source_fingerprint": source_fingerprint(rows),
        "chunk_rows": int(chunk_rows),
        "dtype": str(next(model.parameters()).dtype).removeprefix("torch."),
        "embed_text": bool(embed_text),
        "normalize_captions": bool(normalize_captions),
        "batch_size": int(batch_size),
        "num_workers": int(num_workers),
        "device": str(device),
    }
    _check_settings(output_dir, settings)
    for leftover in [*(output_dir / SHARDS_DIR).glob(".*.tmp"), *(output_dir / SKIPPED_DIR).glob(".*.tmp")]:
        if int(leftover.name[1:].split(".")[0]) % world_size == rank:
            leftover.unlink(missing_ok=True)  # a file of this process's chunk that a killed run was writing
    num_chunks = math.ceil(len(rows) / chunk_rows)
    mine = [
        chunk
        for chunk in range(rank, num_chunks, world_size)
        if not (output_dir / SHARDS_DIR / f"{chunk:05d}.arrow").is_file()
    ]
    batches = [
        list(range(start, min(start + batch_size, (chunk + 1) * chunk_rows, len(rows))))
        for chunk in mine
        for start in range(chunk * chunk_rows, min((chunk + 1) * chunk_rows, len(rows)), batch_size)
    ]
    summary = JobSummary(task=task, output_dir=str(output_dir), rows=len(rows))
    if len(mine) < len(range(rank, num_chunks, world_size)):
        logger.info(f"Continuing {output_dir}: {len(mine)} of this process's chunks are left.")
    writer = _ChunkWriter(output_dir, rows.kept_columns(), rows, task, embed_text)
    _score_batches(rows, model, processor, video_processor, writer, batches, chunk_rows, num_workers,
                   normalize_captions, needs_captions, summary, progress and rank == 0)  # fmt: skip
    wait_for_all_processes()
    if rank == 0:
        return finish_job(output_dir, faiss_index=faiss_index, this_run=summary)
    return summary


def _score_batches(
    rows, model, processor, video_processor, writer, batches, chunk_rows, num_workers, normalize, captions, summary,
    progress,
) -> None:  # fmt: skip
    device = next(model.parameters()).device
    dataset = ScoreRowDataset(rows, video_processor)
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_sampler=batches,
        num_workers=num_workers,
        collate_fn=collate_rows,
        pin_memory=device.type == "cuda",
        prefetch_factor=4 if num_workers else None,
    )
    total = sum(len(batch) for batch in batches)
    bar = tqdm(total=total, desc=f"{writer.task.capitalize()} rows", unit="row", disable=not progress or not total)
    started, dim = time.perf_counter(), model.config.projection_dim
    try:
        for batch in loader:
            chunk = (batch["rows"] or [s.index for s in batch["skipped"]])[0] // chunk_rows
            if chunk != writer.chunk:
                writer.finish(dim)
                writer.start(chunk)
            video_embeds = text_embeds = None
            if batch["rows"]:
                model_started = time.perf_counter()
                with torch.inference_mode():
                    pixel_values = batch["pixel_values"].to(device, non_blocking=True)
                    video_embeds = embed_videos(model, normalize_pixel_values(pixel_values, video_processor))
                    if captions:
                        texts = rows.clips.select(batch["rows"])["caption"]
                        text_embeds = embed_texts(model, processor, texts, normalize_captions=normalize)
                    video_embeds = video_embeds.cpu()
                    text_embeds = text_embeds.cpu() if text_embeds is not None else None
                summary.model_seconds += time.perf_counter() - model_started
            writer.add(batch["rows"], batch["durations"], video_embeds, text_embeds, batch["skipped"])
            summary.rows_this_run += len(batch["rows"]) + len(batch["skipped"])
            bar.update(len(batch["rows"]) + len(batch["skipped"]))
        writer.finish(dim)
    finally:
        summary.seconds = time.perf_counter() - started
        bar.close()


def finish_job(output_dir: str | os.PathLike, *, faiss_index: bool = False, this_run: JobSummary | None = None):
    """
    Writes the manifest, the summary and the list of skipped rows of a job whose chunks are all done (rank 0 at the
    end of a job, or a rerun that finds nothing left to do); and the FAISS index if asked. Returns the
    [`JobSummary`].

    Raises:
        `RuntimeError` naming the missing chunks when the job is not complete (rerun it to finish them).
    """
    output_dir = Path(output_dir)
    settings = json.loads((output_dir / INDEX_CONFIG_NAME).read_text(encoding="utf-8"))
    num_chunks = math.ceil(settings["rows"] / settings["chunk_rows"])
    shards = [output_dir / SHARDS_DIR / f"{chunk:05d}.arrow" for chunk in range(num_chunks)]
    missing = [path.name for path in shards if not path.is_file()]
    if missing:
        raise RuntimeError(f"{output_dir} lacks the shards {missing[:5]}: rerun the same command to finish them.")
    tables = [datasets.Dataset.from_file(str(path)) for path in shards]
    skipped_lines = [
        line
        for chunk in range(num_chunks)
        for line in (output_dir / SKIPPED_DIR / f"{chunk:05d}.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    _write_atomically(output_dir / SKIPPED_ROWS_NAME, lambda t: t.write_text("".join(f"{x}\n" for x in skipped_lines)))
    summary = this_run or JobSummary(task=settings["task"], output_dir=str(output_dir), rows=settings["rows"])
    summary.read, summary.skipped = sum(len(table) for table in tables), len(skipped_lines)
    if settings["task"] == "score" and summary.read:
        scores = np.concatenate([table.with_format("numpy")["score"] for table in tables]).astype(np.float64)
        summary.score = {"mean": float(scores.mean()), "min": float(scores.min()), "max": float(scores.max())}
        summary.score.update({f"q{round(q * 100):02d}": float(np.quantile(scores, q)) for q in QUANTILES})
    manifest = {
        "shards": [
            {"name": f"{SHARDS_DIR}/{path.name}", "rows": len(t)} for path, t in zip(shards, tables, strict=True)
        ],
        "rows": summary.rows,
        "read": summary.read,
        "skipped": summary.skipped,
    }
    _write_json(output_dir / MANIFEST_NAME, manifest)
    shown = asdict(summary)
    for name in ("rows_this_run", "seconds", "model_seconds"):
        shown.pop(name)
    _write_json(output_dir / SUMMARY_NAME, shown)
    if faiss_index and settings["task"] == "embed" and summary.read:
        import faiss

        table = datasets.concatenate_datasets(tables)
        table.add_faiss_index(column="embedding", metric_type=faiss.METRIC_INNER_PRODUCT)
        table.save_faiss_index("embedding", str(output_dir / FAISS_INDEX_NAME))
    return summary


def load_job_table(output_dir: str | os.PathLike) -> datasets.Dataset:
    """The rows a job wrote (its shards, memory-mapped and concatenated in row order)."""
    shards = sorted((Path(output_dir) / SHARDS_DIR).glob("[0-9]*.arrow"))
    if not shards:
        raise FileNotFoundError(f"{output_dir} holds no shard of a scoring or embedding job.")
    return datasets.concatenate_datasets([datasets.Dataset.from_file(str(path)) for path in shards])


__all__ = [
    "TASKS",
    "JobSummary",
    "finish_job",
    "load_job_table",
    "process_layout",
    "run_score_job",
    "source_fingerprint",
    "wait_for_all_processes",
]
