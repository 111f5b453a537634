# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
r"""
VBench's two ViCLIP dimensions, `overall_consistency` and `temporal_style`, over a folder of generated videos: each
video's cosine similarity with its prompt under VBench's protocol (`--protocol vbench` of the scoring job: decord,
8 frames at segment middles, short side to 224 bicubic without antialiasing on uint8, centre crop, CLIP's mean and
std, the prompt unchanged), averaged per dimension as VBench averages it.

    python -m viclip_train.score.vbench --model_name_or_path VICLIP-L14 --videos_path generated/ \
        --full_info_json VBench_full_info.json --output_dir vbench_out/
    torchrun --nproc_per_node 2 -m viclip_train.score.vbench --model_name_or_path VICLIP-L14 \
        --videos_path generated/ --full_info_json VBench_full_info.json --output_dir vbench_out/

Videos are found as VBench finds them: with `--full_info_json` (VBench's `VBench_full_info.json`: a list of
`{"prompt_en", "dimension"}`), each prompt of a dimension has the videos `<prompt>-<index>.mp4` (index 0 to 4) that
exist in the folder; without it (VBench's `custom_input` mode), every video counts for every dimension asked, its
prompt being its file name without `-<index>`. The scores go to `<output_dir>/<name>_eval_results.json` in VBench's
layout (`{dimension: [score, [{"video_path", "video_results"}, ...]]}`), and each dimension's score is printed. A
video that cannot be read is left out of the average and listed (VBench would stop); the run is resumable as any
scoring job (its rows are in `<output_dir>/scores`).
"""

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import datasets
import numpy as np
from transformers import HfArgumentParser

from viclip_train.arguments import CommandHelpFormatter
from viclip_train.distributed import end_distributed_run
from viclip_train.moments.index_videos import DTYPES
from viclip_train.score.command import protocol_video_processor, start_job_process
from viclip_train.score.job import load_job_table, run_score_job
from viclip_train.score.rows import ScoreRows, clip_table, prompt_from_filename


logger = logging.getLogger(__name__)

VBENCH_DIMENSIONS = ("overall_consistency", "temporal_style")
"""The VBench dimensions judged by ViCLIP; they differ only in their prompts."""
SAMPLES_PER_PROMPT = 5
"""Videos VBench's standard mode looks for per prompt: `<prompt>-0.mp4` to `<prompt>-4.mp4`."""


def vbench_videos(
    videos_path: str | os.PathLike, dimensions: list[str], full_info_json: str | os.PathLike | None = None
) -> dict[str, list[tuple[str, str]]]:
    """`{dimension: [(video file name, prompt), ...]}` as VBench lists them (see the module docstring)."""
    unknown = sorted(set(dimensions) - set(VBENCH_DIMENSIONS))
    if unknown:
        raise ValueError(f"Unknown dimensions {unknown}: this runner computes {list(VBENCH_DIMENSIONS)}.")
    names = sorted(name for name in os.listdir(videos_path) if name.lower().endswith(".mp4"))
    if full_info_json is None:
        return {dimension: [(name, prompt_from_filename(name)) for name in names] for dimension in dimensions}
    present, found = set(names), {dimension: [] for dimension in dimensions}
    for entry in json.loads(Path(full_info_json).read_text(encoding="utf-8")):
        prompt = entry["prompt_en"]
        for dimension in set(dimensions) & set(entry["dimension"]):
            found[dimension] += [(f"{prompt}-{index}.mp4", prompt) for index in range(SAMPLES_PER_PROMPT)
                                 if f"{prompt}-{index}.mp4" in present]  # fmt: skip
    return found


def vbench_rows(videos_path: str | os.PathLike, listed: dict[str, list[tuple[str, str]]]) -> ScoreRows:
    """The distinct (video, prompt) pairs of every dimension, as the rows of a scoring job."""
    pairs = sorted({pair for pairs in listed.values() for pair in pairs})
    if not pairs:
        raise ValueError(f"No video of {sorted(listed)} found in {videos_path} (named <prompt>-<index>.mp4).")
    videos, prompts = [video for video, _ in pairs], [prompt for _, prompt in pairs]
    columns = datasets.Dataset.from_dict({"video_path": videos, "prompt": prompts})
    return ScoreRows(columns, clip_table({"video": videos, "caption": prompts}), str(videos_path), str(videos_path))


def dimension_results(videos_path: str, listed: dict[str, list[tuple[str, str]]], scores: datasets.Dataset) -> dict:
    """VBench's results: `{dimension: [mean score, [{"video_path", "video_results"}, ...]]}` (read videos only)."""
    by_pair = {(v, p): s for v, p, s in zip(scores["video_path"], scores["prompt"], scores["score"], strict=True)}
    results = {}
    for dimension, pairs in listed.items():
        videos = [
            {"video_path": os.path.join(videos_path, video), "video_results": by_pair[(video, prompt)]}
            for video, prompt in pairs
            if (video, prompt) in by_pair
        ]
        mean = float(np.mean([video["video_results"] for video in videos])) if videos else float("nan")
        results[dimension] = [mean, videos]
    return results


@dataclass
class VBenchArguments:
    """The generated videos, the model, and where to write the results."""

    model_name_or_path: str = field(metadata={"help": "The ViCLIP folder or Hub id (VBench uses ViCLIP-L/14)."})
    videos_path: str = field(metadata={"help": "Folder of the generated videos, named <prompt>-<index>.mp4."})
    output_dir: str = field(metadata={"help": "Where the scores and <name>_eval_results.json are written."})
    full_info_json: str | None = field(
        default=None,
        metadata={"help": "VBench's VBench_full_info.json (the prompts of each dimension); without it every video "
                  "counts for every dimension, its prompt read from its file name."},
    )  # fmt: skip
    dimension: list[str] = field(
        default_factory=lambda: list(VBENCH_DIMENSIONS),
        metadata={"help": "Dimensions to compute.", "choices": list(VBENCH_DIMENSIONS)},
    )
    name: str = field(default="results", metadata={"help": "Prefix of the results file, as VBench's --output name."})
    batch_size: int = field(default=16, metadata={"help": "Videos per forward pass."})
    num_workers: int = field(default=4, metadata={"help": "DataLoader processes decoding videos."})
    dtype: str = field(default="float32", metadata={"help": "Model dtype (VBench: float32).", "choices": list(DTYPES)})
    device: str | None = field(default=None, metadata={"help": "cpu, cuda, ...; this process's GPU by default."})
    disable_tqdm: bool = field(default=False, metadata={"help": "No progress bar."})


def main(argv: list[str] | None = None) -> None:
    parser = HfArgumentParser(
        VBenchArguments,
        prog="python -m viclip_train.score.vbench",
        description=__doc__,
        formatter_class=CommandHelpFormatter,
        allow_abbrev=False,
    )
    (args,) = parser.parse_args_into_dataclasses(args=argv)
    rank, model, processor, model_id = start_job_process(args.model_name_or_path, args.device, args.dtype)
    listed = vbench_videos(args.videos_path, args.dimension, args.full_info_json)
    summary = run_score_job(
        vbench_rows(args.videos_path, listed),
        model,
        processor,
        Path(args.output_dir) / "scores",
        video_processor=protocol_video_processor("vbench", model, processor),
        model_id=model_id,
        protocol="vbench",
        batch_size=args.batch_size,
        num_workers=args.num_workers,
        chunk_rows=256,
        progress=not args.disable_tqdm,
    )
    if rank == 0:
        results = dimension_results(args.videos_path, listed, load_job_table(Path(args.output_dir) / "scores"))
        path = Path(args.output_dir) / f"{args.name}_eval_results.json"
        path.write_text(json.dumps(results, indent=4) + "\n", encoding="utf-8")
        for dimension, (score, videos) in results.items():
            print(f"{dimension}: {score:.6f} ({len(videos)} videos)")
        if summary.skipped:
            print(f"{summary.skipped} videos could not be read and are left out: see {args.output_dir}/scores.")
        print(f"Results saved to {path}")
    end_distributed_run()


__all__ = ["VBENCH_DIMENSIONS", "dimension_results", "main", "vbench_rows", "vbench_videos"]


if __name__ == "__main__":
    main()
