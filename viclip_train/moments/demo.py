# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""
The moment-search demo: a long synthetic video stitched from clips of moving shapes is indexed with a ViCLIP model,
then searched with each clip's caption.

    python run_pretrain.py configs/demo.json     # once: the demo model, a few minutes on a CPU
    python -m viclip_train.moments.demo           # builds the video, indexes it and searches it, under a minute

The video (`<output_dir>/videos/long_video.mp4`, 64x64 at 8 fps) is `--num_clips` clips of the synthetic corpus (2 s
each, a shape of one colour crossing the frame in one direction), each followed by 1 s of empty background; every
clip has its own colour and shape pair (the direction is drawn at random), so that a caption names one clip. Where each
clip lies is written to `<output_dir>/clips.json`. The video is indexed in `<output_dir>/index` with 2 s windows every
second (the same code as `python -m viclip_train.moments.index_videos`), and every clip's caption is searched
(`search_moments`). A query hits when its best moment overlaps its clip. Prints one row per query and the hit rate at
1 and at `--top_k`, next to chance (the share of windows overlapping the clip).
"""

import itertools
import json
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from transformers import HfArgumentParser

from viclip_train.arguments import CommandHelpFormatter
from viclip_train.data.synthetic import COLORS, DIRECTIONS, SHAPES, caption_for, render_clip, write_video
from viclip_train.moments.index import index_videos
from viclip_train.moments.search import Moment, MomentIndex, TextEmbedder, load_viclip, search_moments
from viclip_train.moments.windows import VideoEmbedder, sliding_windows


VIDEO_NAME = "long_video.mp4"
CLIP_FRAMES = 16  # 2 s at 8 fps, as the clips the demo model was trained on
GAP_FRAMES = 8  # 1 s of empty background after each clip
FPS = 8
FRAME_SIZE = 64


@dataclass
class DemoArguments:
    """The demo's model, folder and sizes."""

    model_name_or_path: str = field(
        default="outputs/demo-pretrain",
        metadata={
            "help": "The ViCLIP folder to search with; `python run_pretrain.py configs/demo.json` makes this one."
        },
    )
    output_dir: str = field(
        default="outputs/moments-demo", metadata={"help": "Where the video, its clip list and the index are written."}
    )
    num_clips: int = field(
        default=len(COLORS) * len(SHAPES),
        metadata={
            "help": f"Clips in the video, each a different colour and shape (at most {len(COLORS) * len(SHAPES)})."
        },
    )
    window_seconds: float = field(default=2.0, metadata={"help": "Length of the indexed windows, seconds."})
    stride_seconds: float = field(default=1.0, metadata={"help": "Time between window starts, seconds."})
    top_k: int = field(default=3, metadata={"help": "Moments kept per query (hit rate at this rank is reported too)."})
    num_workers: int = field(default=2, metadata={"help": "Decoding worker processes of the indexer."})
    seed: int = field(default=0, metadata={"help": "Draws the clips' order, directions, positions and backgrounds."})


def build_long_video(output_dir: Path, num_clips: int, seed: int) -> list[dict]:
    """
    Writes the demo video and `clips.json`; returns the clips: `caption`, `start` and `end` (seconds) of each.
    """
    pairs = list(itertools.product(COLORS, SHAPES))
    if not 1 <= num_clips <= len(pairs):
        raise ValueError(
            f"--num_clips must lie in [1, {len(pairs)}] (one clip per colour and shape), got {num_clips}."
        )
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(pairs))[:num_clips]
    segments, clips = [], []
    for position, pair_index in enumerate(order):
        color, shape = pairs[pair_index]
        direction = list(DIRECTIONS)[rng.integers(len(DIRECTIONS))]
        frames = render_clip(color, shape, direction, num_frames=CLIP_FRAMES, frame_size=FRAME_SIZE, rng=rng)
        gap = np.empty((GAP_FRAMES, FRAME_SIZE, FRAME_SIZE, 3), dtype=np.uint8)
        gap[:] = rng.integers(0, 50, size=3).astype(np.uint8)
        segments += [frames, gap]
        start = position * (CLIP_FRAMES + GAP_FRAMES) / FPS
        clips.append(
            {"caption": caption_for(color, shape, direction), "start": start, "end": start + CLIP_FRAMES / FPS}
        )
    (output_dir / "videos").mkdir(parents=True, exist_ok=True)
    write_video(output_dir / "videos" / VIDEO_NAME, np.concatenate(segments), fps=FPS)
    (output_dir / "clips.json").write_text(json.dumps(clips, indent=1) + "\n", encoding="utf-8")
    return clips


def overlaps(moment: Moment, clip: dict) -> bool:
    """Whether a moment shares more than an instant with a clip."""
    return moment.start < clip["end"] and clip["start"] < moment.end


def main(argv: list[str] | None = None) -> None:
    parser = HfArgumentParser(
        DemoArguments, description=__doc__, formatter_class=CommandHelpFormatter, allow_abbrev=False
    )
    (args,) = parser.parse_args_into_dataclasses(args=argv)
    logging.basicConfig(format="%(asctime)s - %(levelname)s - %(name)s - %(message)s", level=logging.WARNING)
    if not os.path.isdir(args.model_name_or_path):
        raise FileNotFoundError(
            f"No model folder at {args.model_name_or_path}. Make the demo model first with "
            "`python run_pretrain.py configs/demo.json` (a few minutes on a CPU), or pass --model_name_or_path."
        )
    output_dir = Path(args.output_dir)
    clips = build_long_video(output_dir, args.num_clips, args.seed)
    duration = (CLIP_FRAMES + GAP_FRAMES) * len(clips) / FPS
    print(f"Wrote {output_dir / 'videos' / VIDEO_NAME}: {len(clips)} clips, {duration:.0f} s.")

    model, processor = load_viclip(args.model_name_or_path)
    index_dir = output_dir / "index"
    shutil.rmtree(index_dir, ignore_errors=True)  # the model may have changed since the last run: index afresh
    summary = index_videos(
        output_dir / "videos",
        index_dir,
        VideoEmbedder(model),
        processor.video_processor,
        model_id=os.path.abspath(args.model_name_or_path),
        window_seconds=args.window_seconds,
        stride_seconds=args.stride_seconds,
        num_workers=args.num_workers,
    )
    print(f"Indexed {summary.windows_indexed} windows of {args.window_seconds:g} s every {args.stride_seconds:g} s.\n")

    index = MomentIndex.load(index_dir)
    captions = [clip["caption"] for clip in clips]
    results = search_moments(index, captions, embed_texts=TextEmbedder(model, processor), top_k=args.top_k)
    windows = sliding_windows(duration, args.window_seconds, args.stride_seconds)
    hits_at_1 = hits_at_k = 0
    chance = 0.0
    print(f"| Query | Its clip (s) | Best moment (s) | Score | Hit | Hit in top {args.top_k} |")
    print("|---|---|---|---|---|---|")
    for clip, moments in zip(clips, results, strict=True):
        best = moments[0]
        hit = overlaps(best, clip)
        hit_k = any(overlaps(moment, clip) for moment in moments)
        hits_at_1 += hit
        hits_at_k += hit_k
        chance += sum(clip["start"] < end and start < clip["end"] for start, end in windows) / len(windows)
        print(
            f"| {clip['caption']} | {clip['start']:g}-{clip['end']:g} | {best.start:g}-{best.end:g} | "
            f"{best.score:.3f} | {'yes' if hit else 'no'} | {'yes' if hit_k else 'no'} |"
        )
    count = len(clips)
    print(
        f"\nHit rate at 1: {hits_at_1}/{count} ({100 * hits_at_1 / count:.0f} %); "
        f"at {args.top_k}: {hits_at_k}/{count} "
        f"({100 * hits_at_k / count:.0f} %). Chance at 1: {100 * chance / count:.1f} %."
    )


if __name__ == "__main__":
    main()
