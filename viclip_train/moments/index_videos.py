# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
r"""
Indexes a folder of (long) videos for moment search: every video is cut into sliding windows, each window embedded
with a ViCLIP model, and the embeddings stored with their video and times in an Arrow index folder.

    python -m viclip_train.moments.index_videos --model_name_or_path VICLIP_DIR --video_dir videos/ --output_dir index/
    python -m viclip_train.moments.index_videos --model_name_or_path VICLIP_DIR --video_dir videos/ \
        --output_dir index/ --window_seconds 4 --stride_seconds 2 --batch_size 32 --num_workers 8 --dtype bfloat16

Rerunning the same command resumes: videos already in the index are skipped, a video that was being indexed when
the run stopped is redone (never stored twice). Videos that cannot be read are skipped, counted and listed in
`<output_dir>/skipped_videos.json` (the next run tries them again). Search the index with
`python -m viclip_train.moments.search_moments`. See `viclip_train/moments/index.py` for the index layout.
"""

import logging
import os
from dataclasses import dataclass, field

import datasets
import torch
from transformers import HfArgumentParser

from viclip_train.arguments import CommandHelpFormatter
from viclip_train.moments.index import index_videos
from viclip_train.moments.search import load_viclip
from viclip_train.moments.windows import VideoEmbedder


logger = logging.getLogger(__name__)

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass
class IndexArguments:
    """What to index, where to, and how."""

    model_name_or_path: str = field(
        metadata={
            "help": "The ViCLIP folder or Hub id whose video tower embeds the windows. It is recorded in the index: "
            "search_moments embeds queries with it, and a resumed run must name the same."
        }
    )
    video_dir: str = field(
        metadata={"help": "Folder of the videos to index, searched recursively (mp4, mkv, webm, avi, mov, ...)."}
    )
    output_dir: str = field(
        metadata={
            "help": "The index folder, created if needed; an existing index made with the same settings is resumed."
        }
    )
    window_seconds: float = field(default=8.0, metadata={"help": "Length of each window, seconds."})
    stride_seconds: float = field(
        default=4.0,
        metadata={
            "help": "Time between the starts of consecutive windows, seconds. The last window of a video is aligned "
            "to its end; a video shorter than one window is one window."
        },
    )
    num_frames: int | None = field(
        default=None,
        metadata={
            "help": "Frames sampled per window (middles of equal segments); the model's processor's by default (8)."
        },
    )
    batch_size: int = field(default=16, metadata={"help": "Windows per forward pass."})
    num_workers: int = field(
        default=2,
        metadata={"help": "DataLoader worker processes decoding windows while the model runs (0: no overlap)."},
    )
    video_backend: str | None = field(
        default=None,
        metadata={"help": "Decoder: decord or pyav. By default the processor's setting, else decord when installed."},
    )
    device: str | None = field(
        default=None,
        metadata={"help": "Where the model runs (cpu, cuda, cuda:1, ...); CUDA when available by default."},
    )
    dtype: str = field(
        default="float32",
        metadata={
            "help": "Model weights' dtype: float32, bfloat16 or float16 (half precision: on a GPU).",
            "choices": list(DTYPES),
        },
    )
    shard_size: int = field(
        default=2048, metadata={"help": "Windows gathered (of whole videos) before a shard of the index is written."}
    )
    save_interval: float = field(
        default=120.0,
        metadata={
            "help": "Seconds after which completed videos are written even before --shard_size windows gathered: "
            "at most this much work is lost when a run is killed."
        },
    )


def main(argv: list[str] | None = None) -> None:
    parser = HfArgumentParser(
        IndexArguments, description=__doc__, formatter_class=CommandHelpFormatter, allow_abbrev=False
    )
    (args,) = parser.parse_args_into_dataclasses(args=argv)
    logging.basicConfig(format="%(asctime)s - %(levelname)s - %(name)s - %(message)s", level=logging.INFO)
    datasets.utils.logging.set_verbosity_warning()
    model_path = args.model_name_or_path
    model, processor = load_viclip(model_path, device=args.device, dtype=DTYPES[args.dtype])
    summary = index_videos(
        args.video_dir,
        args.output_dir,
        VideoEmbedder(model),
        processor.video_processor,
        # a local folder is recorded by its absolute path, so that searches from any directory find it
        model_id=os.path.abspath(model_path) if os.path.isdir(model_path) else model_path,
        window_seconds=args.window_seconds,
        stride_seconds=args.stride_seconds,
        num_frames=args.num_frames,
        batch_size=args.batch_size,
        num_workers=args.num_workers,
        video_backend=args.video_backend,
        shard_size=args.shard_size,
        save_interval=args.save_interval,
    )
    print(
        f"{summary.output_dir}: {summary.videos_indexed} videos indexed ({summary.windows_indexed} windows, "
        f"{summary.windows_per_second:.1f} windows/s, model busy {summary.model_busy_share:.0%}), "
        f"{summary.videos_already_indexed} already indexed, {len(summary.skipped_videos)} skipped"
    )


if __name__ == "__main__":
    main()
