# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""
Embedding every video and every caption of a retrieval benchmark once, at dataset scale, with a file cache keyed by
the model and the set: captions through [`~viclip.pipeline_viclip.embed_texts`] and videos, decoded by DataLoader
workers while the model runs, through [`~viclip.pipeline_viclip.embed_videos`] (the model package's one home of both).
"""

import contextlib
import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import datasets
import torch
from safetensors.torch import load_file, save_file
from tqdm.auto import tqdm
from transformers.utils import logging

from viclip.pipeline_viclip import embed_texts, embed_videos

from ..data.annotation_dataset import VideoDataset
from ..data.collator import INDEX_KEY, SKIPPED_SAMPLES_KEY, VideoDataCollator
from ..data.skipping import SkippedSample


logger = logging.get_logger(__name__)


def _fingerprint(parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode("utf-8")).hexdigest()[:16]


def model_fingerprint(model_name_or_path: str, config: Any = None) -> str:
    """
    A short key of a model's weights: for a local folder, its `config.json` and the names, sizes and modification
    times of its weight files (cheap, and it changes whenever the weights are rewritten); for a Hub id, the id and
    the resolved commit.
    """
    folder = Path(model_name_or_path)
    if folder.is_dir():
        files = sorted(
            (entry.name, entry.stat().st_size, entry.stat().st_mtime_ns)
            for entry in folder.iterdir()
            if entry.is_file() and entry.suffix in (".safetensors", ".bin", ".json")
        )
        return _fingerprint([str(folder.resolve()), files])
    return _fingerprint([model_name_or_path, getattr(config, "_commit_hash", None)])


def count_truncated_captions(processor: Any, captions: Sequence[str], normalize_captions: bool) -> int:
    """How many captions are longer than the processor's text context (start and end tokens included) and get cut
    to it, as in training."""
    if not captions:
        return 0
    context = processor.tokenizer.model_max_length
    ids = processor.tokenizer(
        list(captions), normalize_captions=normalize_captions, padding=False, truncation=False, verbose=False
    )["input_ids"]
    return sum(len(row) > context for row in ids)


def _autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    return torch.autocast(device.type, dtype=dtype) if dtype is not None else contextlib.nullcontext()


@torch.no_grad()
def embed_captions(
    model: torch.nn.Module,
    processor: Any,
    captions: Sequence[str],
    *,
    normalize_captions: bool = True,
    batch_size: int = 256,
    autocast_dtype: torch.dtype | None = None,
    progress: bool = True,
) -> torch.Tensor:
    """
    L2-normalised text embeddings `[T, projection_dim]` (float32, on the CPU) of `captions`, each embedded once by
    [`~viclip.pipeline_viclip.embed_texts`], `batch_size` at a time, with the processor's cleaning (and the reference's
    caption normalisation when `normalize_captions`), cut to the 32-token context.
    """
    device = next(model.parameters()).device
    embeds = []
    for start in tqdm(range(0, len(captions), batch_size), desc="Embedding captions", disable=not progress):
        batch = list(captions[start : start + batch_size])
        with _autocast(device, autocast_dtype):
            text_embeds = embed_texts(
                model, processor, batch, batch_size=batch_size, normalize_captions=normalize_captions
            )
        embeds.append(text_embeds.cpu())
    return torch.cat(embeds)


@torch.no_grad()
def embed_video_dataset(
    model: torch.nn.Module,
    dataset: VideoDataset,
    *,
    batch_size: int = 32,
    num_workers: int = 4,
    autocast_dtype: torch.dtype | None = None,
    progress: bool = True,
) -> tuple[torch.Tensor, list[SkippedSample]]:
    """
    L2-normalised video embeddings `[V, projection_dim]` (float32, CPU) of every row of `dataset` (an evaluation
    [`VideoDataset`]: middle frames, resized), decoded by `num_workers` DataLoader processes while the model runs
    ([`~viclip.pipeline_viclip.embed_videos`]).

    Returns:
        `(embeds, skipped)`: rows of unreadable videos are NaN in `embeds`, and listed in `skipped` (their index, path
        and reason).
    """
    device = next(model.parameters()).device
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_size=batch_size,
        num_workers=num_workers,
        collate_fn=VideoDataCollator(),
        pin_memory=device.type == "cuda",
    )
    embeds, skipped = None, []
    for batch in tqdm(loader, desc="Embedding videos", disable=not progress):
        skipped.extend(batch[SKIPPED_SAMPLES_KEY])
        if "pixel_values" not in batch:
            continue
        with _autocast(device, autocast_dtype):
            video_embeds = embed_videos(model, batch["pixel_values"]).cpu()
        if embeds is None:
            embeds = torch.full((len(dataset), video_embeds.shape[1]), float("nan"))
        embeds[batch[INDEX_KEY]] = video_embeds
    if embeds is None:
        raise ValueError(f"None of the {len(dataset)} videos could be read, e.g. {skipped[:1]}: check --video_root.")
    return embeds, skipped


def benchmark_video_table(paths: Sequence[str], windows: Sequence[tuple[float, float] | None]) -> datasets.Dataset:
    """The annotation table a [`VideoDataset`] reads (the columns of `load_annotations`): one row per video file, with
    its window."""
    return datasets.Dataset.from_dict(
        {
            "video": list(paths),
            "caption": [None] * len(paths),
            "label": [None] * len(paths),
            "start": [None if window is None else float(window[0]) for window in windows],
            "end": [None if window is None else float(window[1]) for window in windows],
        },
        features=datasets.Features(
            {
                "video": datasets.Value("string"),
                "caption": datasets.Value("string"),
                "label": datasets.Value("string"),
                "start": datasets.Value("float64"),
                "end": datasets.Value("float64"),
            }
        ),
    )


@dataclass(frozen=True)
class EmbeddingCache:
    """
    Saved embeddings of one model on one benchmark, as safetensors files in `folder`: `videos-<key>.safetensors` and
    `captions-<key>.safetensors`, each key a hash of everything the embeddings depend on (the model's weights, the
    video files and their windows or the caption texts, frames, precision, ...). A changed input gives another key,
    so a stale file is never read.
    """

    folder: Path

    def path(self, kind: str, key: dict[str, Any]) -> Path:
        return self.folder / f"{kind}-{_fingerprint(key)}.safetensors"

    def load(self, kind: str, key: dict[str, Any]) -> dict[str, torch.Tensor] | None:
        """The tensors saved under `key`, or `None`."""
        path = self.path(kind, key)
        if not path.is_file():
            return None
        logger.info(f"Reusing the {kind} embeddings saved in {path}.")
        return load_file(path)

    def save(self, kind: str, key: dict[str, Any], tensors: dict[str, torch.Tensor]) -> Path:
        """Saves `tensors` under `key` (atomically) and returns the file."""
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.path(kind, key)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        metadata = {"key": json.dumps(key, sort_keys=True, default=str)[:60000]}
        save_file({name: tensor.contiguous() for name, tensor in tensors.items()}, temporary, metadata=metadata)
        os.replace(temporary, path)
        return path


def file_signature(path: str) -> list:
    """`[absolute path, size, modification time]` of a file, for cache keys."""
    stat = os.stat(path)
    return [os.path.abspath(path), stat.st_size, stat.st_mtime_ns]


__all__ = [
    "EmbeddingCache",
    "benchmark_video_table",
    "count_truncated_captions",
    "embed_captions",
    "embed_video_dataset",
    "file_signature",
    "model_fingerprint",
]
