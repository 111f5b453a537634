# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
r"""
Scores every (clip, caption) pair of a source with ViCLIP (their cosine similarity), or embeds every clip (and
caption), into a folder of Arrow shards with a summary; data-parallel under `torchrun` / `accelerate launch`, and
resumable: rerun the same command after a crash or a kill and it continues where it stopped.

    python -m viclip_train.score --model_name_or_path VICLIP --annotation_file InternVid-10M-FLT.jsonl \
        --video_root videos/ --output_dir scores/
    python -m viclip_train.score --task embed --model_name_or_path VICLIP --video_dir videos/ --output_dir emb/ \
        --faiss_index
    torchrun --nproc_per_node 2 -m viclip_train.score --model_name_or_path VICLIP --annotation_file ann.jsonl \
        --video_root videos/ --output_dir scores/ --dtype bfloat16 --batch_size 64 --num_workers 8

Sources (exactly one): --annotation_file (JSON, JSON Lines, CSV, InternVid's layout with clip windows),
--dataset_name (a `save_to_disk` folder, a Hub id or a data folder, with a path or `Video()` column), --shards (tar
shards), --video_dir (a folder of videos). The output keeps every column of the source, plus `row` and `score`
(`embed`: `video`, `start`, `end`, `embedding`; it loads with `viclip_train.moments.search.MomentIndex.load`).
Bad videos are skipped, counted and listed (`skipped_rows.jsonl`) with the reason.

Largest batch: on a GPU, `--find_batch_size` runs the model on growing random batches and prints the largest that
fits; use it (or a little less) as --batch_size. Raise --num_workers until the progress bar's rows/s stops growing
(the decoders then keep up with the model). On the CPU the batch size hardly matters above 8.
"""

import logging
import os
from dataclasses import dataclass, field
from typing import Any

import datasets
import torch
import torch.distributed as dist
from transformers import HfArgumentParser

from viclip.video_processing_viclip import ViCLIPVideoProcessor
from viclip.video_protocols_viclip import PROTOCOLS
from viclip_train.arguments import CommandHelpFormatter
from viclip_train.data.clips import normalize_pixel_values
from viclip_train.distributed import end_distributed_run
from viclip_train.moments.index_videos import DTYPES
from viclip_train.moments.search import load_viclip
from viclip_train.score.job import TASKS, process_layout, run_score_job
from viclip_train.score.rows import (
    ScoreRows,
    load_annotation_rows,
    load_dataset_rows,
    load_shard_rows,
    load_video_folder_rows,
)


logger = logging.getLogger(__name__)


@dataclass
class ScoreArguments:
    """What to score or embed, with which model and protocol, and where to."""

    model_name_or_path: str = field(metadata={"help": "The ViCLIP folder or Hub id (both towers)."})
    output_dir: str = field(
        metadata={"help": "Output folder, created if needed; one written by the same command is continued."}
    )
    task: str = field(
        default="score",
        metadata={
            "help": "score: the cosine similarity of each clip and its caption. embed: the normalised video "
            "embedding of each clip (and of its caption with --embed_text).",
            "choices": list(TASKS),
        },
    )
    annotation_file: str | None = field(
        default=None,
        metadata={"help": "Source: an annotation file (.json, .jsonl, .csv; InternVid's layout: clip windows)."},
    )
    dataset_name: str | None = field(
        default=None,
        metadata={"help": "Source: a datasets folder saved with save_to_disk, a Hub dataset id or a data folder."},
    )
    dataset_config_name: str | None = field(default=None, metadata={"help": "Configuration of --dataset_name."})
    split: str = field(default="train", metadata={"help": "Split of --dataset_name to read."})
    shards: list[str] | None = field(
        default=None,
        metadata={"help": "Source: tar shards (WebDataset layout): files, folders, globs or brace patterns."},
    )
    video_dir: str | None = field(
        default=None, metadata={"help": "Source: a folder of videos (searched recursively)."}
    )
    video_root: str | None = field(
        default=None, metadata={"help": "Folder that the video paths of --annotation_file / --dataset_name are under."}
    )
    video_column: str = field(default="video", metadata={"help": "Column of the video paths or Video() values."})
    caption_column: str | None = field(
        default="caption",
        metadata={"help": "Column of the captions (InternVid's 'Caption' is found by itself); 'none' for none."},
    )
    caption_from_filename: bool = field(
        default=False,
        metadata={"help": "With --video_dir: each video's caption is its file name without '-<index>' (VBench's)."},
    )
    protocol: str = field(
        default="reference",
        metadata={
            "help": "How clips are sampled, resized and normalised: reference (the reference's evaluation transform, "
            "the model's processor), vbench (VBench's overall_consistency / temporal_style) or internvid_demo "
            "(InternVid's demo; exact with OpenCV installed).",
            "choices": list(PROTOCOLS),
        },
    )
    embed_text: bool = field(default=False, metadata={"help": "With --task embed: also embed the captions."})
    normalize_captions: bool = field(
        default=False,
        metadata={"help": "Apply the reference's training caption normalisation; by default captions are unchanged."},
    )
    batch_size: int = field(default=32, metadata={"help": "Clips per forward pass (see --find_batch_size)."})
    num_workers: int = field(
        default=4, metadata={"help": "DataLoader processes decoding clips while the model runs (0: no overlap)."}
    )
    chunk_rows: int = field(
        default=1024,
        metadata={
            "help": "Rows per output shard: the unit of progress (a kill loses at most one chunk per process) and of "
            "the split over processes. Fixed for the life of an output folder."
        },
    )
    dtype: str = field(
        default="float32",
        metadata={"help": "Model dtype: float32, or bfloat16 / float16 on a GPU.", "choices": list(DTYPES)},
    )
    device: str | None = field(
        default=None, metadata={"help": "cpu, cuda, cuda:1...; by default this process's GPU if any, else the CPU."}
    )
    faiss_index: bool = field(
        default=False, metadata={"help": "With --task embed: also write a flat inner-product FAISS index."}
    )
    find_batch_size: bool = field(
        default=False,
        metadata={"help": "Print the largest batch of clips the model fits on this GPU (growing from 1), and exit."},
    )
    disable_tqdm: bool = field(default=False, metadata={"help": "No progress bar."})

    def __post_init__(self):
        given = [name for name in ("annotation_file", "dataset_name", "shards", "video_dir") if getattr(self, name)]
        if len(given) != 1 and not self.find_batch_size:
            raise ValueError(f"Give exactly one source (--annotation_file, --dataset_name, --shards, --video_dir), got "
                             f"{['--' + name for name in given] or 'none'}.")  # fmt: skip
        if self.caption_column in ("none", "None", ""):
            self.caption_column = None


def load_rows(args: ScoreArguments) -> ScoreRows:
    """The rows of the source the arguments name."""
    if args.annotation_file:
        return load_annotation_rows(args.annotation_file, video_root=args.video_root,
                                    video_column=args.video_column, caption_column=args.caption_column)  # fmt: skip
    if args.dataset_name:
        return load_dataset_rows(
            args.dataset_name,
            dataset_config_name=args.dataset_config_name,
            split=args.split,
            video_root=args.video_root,
            video_column=args.video_column,
            caption_column=args.caption_column,
        )
    if args.shards:
        return load_shard_rows(args.shards, caption_field=args.caption_column or "caption")
    return load_video_folder_rows(args.video_dir, caption_from_filename=args.caption_from_filename)


def protocol_video_processor(protocol: str, model: torch.nn.Module, processor) -> ViCLIPVideoProcessor:
    """The video processor of a protocol for `model`: the model's own for `reference`, else the protocol's preset at
    the model's frame count and size (8 frames, 224 pixels for every released ViCLIP, as the protocols have them)."""
    if protocol == "reference":
        return processor.video_processor
    vision = model.config.vision_config
    return ViCLIPVideoProcessor.from_protocol(protocol, num_frames=vision.num_frames, image_size=vision.image_size)


def largest_batch_size(model: torch.nn.Module, video_processor, limit: int = 4096) -> int:
    """The largest batch of random clips (doubling from 1) the model embeds without running out of GPU memory."""
    device = next(model.parameters()).device
    frames, height, width = video_processor.num_frames, model.config.vision_config.image_size, None
    width, fits, size = height, 0, 1
    while size <= limit:
        try:
            pixel_values = torch.randint(0, 256, (size, frames, 3, height, width), dtype=torch.uint8, device=device)
            with torch.inference_mode():
                model.get_video_features(pixel_values=normalize_pixel_values(pixel_values, video_processor).to(
                    next(model.parameters()).dtype))  # fmt: skip
            fits, size = size, size * 2
        except torch.OutOfMemoryError:
            break
        finally:
            torch.cuda.empty_cache() if device.type == "cuda" else None
    return fits


def start_job_process(model_name_or_path: str, device: str | None, dtype: str) -> tuple[int, Any, Any, str]:
    """Sets up one process of a job: logging, the process group under `torchrun` / `accelerate launch` (NCCL on
    GPUs, gloo on the CPU), this process's device (its `LOCAL_RANK` GPU by default) and the model there. Returns
    `(rank, model, processor, model_id)`, the model id being a local folder's absolute path (recorded in the output,
    so that a search from any directory finds it)."""
    logging.basicConfig(format="%(asctime)s - %(levelname)s - %(name)s - %(message)s", level=logging.INFO)
    datasets.utils.logging.set_verbosity_warning()
    rank, world_size = process_layout()
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() and device != "cpu" else "gloo")
    if device is None and torch.cuda.is_available():
        device = f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}"
    model, processor = load_viclip(model_name_or_path, device=device or "cpu", dtype=DTYPES[dtype])
    is_folder = os.path.isdir(model_name_or_path)
    return rank, model, processor, os.path.abspath(model_name_or_path) if is_folder else model_name_or_path


def main(argv: list[str] | None = None) -> None:
    parser = HfArgumentParser(
        ScoreArguments,
        prog="python -m viclip_train.score",
        description=__doc__,
        formatter_class=CommandHelpFormatter,
        allow_abbrev=False,
    )
    (args,) = parser.parse_args_into_dataclasses(args=argv)
    rank, model, processor, model_id = start_job_process(args.model_name_or_path, args.device, args.dtype)
    video_processor = protocol_video_processor(args.protocol, model, processor)
    if args.find_batch_size:
        if next(model.parameters()).device.type != "cuda":
            print("--find_batch_size probes GPU memory; on the CPU any batch fits, and above 8 speed hardly changes.")
        else:
            print(f"largest batch that fits: {largest_batch_size(model, video_processor)} clips")
        return
    summary = run_score_job(
        load_rows(args),
        model,
        processor,
        args.output_dir,
        task=args.task,
        video_processor=video_processor,
        model_id=model_id,
        protocol=args.protocol,
        embed_text=args.embed_text,
        normalize_captions=args.normalize_captions,
        batch_size=args.batch_size,
        num_workers=args.num_workers,
        chunk_rows=args.chunk_rows,
        faiss_index=args.faiss_index,
        progress=not args.disable_tqdm,
    )
    if rank == 0:
        print("\n".join(summary.lines()))
    end_distributed_run()


__all__ = ["ScoreArguments", "load_rows", "main", "protocol_video_processor", "start_job_process"]
