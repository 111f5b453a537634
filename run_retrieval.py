#!/usr/bin/env python
# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
r"""
Zero-shot text-video retrieval of a ViCLIP model on a public benchmark, by the reference's protocol.

    python run_retrieval.py --model_name_or_path VICLIP_DIR --annotation_file MSRVTT_JSFUSION_test.csv \
        --video_root MSRVTT/videos/all --output_dir eval/msrvtt_1k
    python run_retrieval.py --model_name_or_path VICLIP_DIR --annotation_file raw-captions.pkl \
        --split_file test_list.txt --video_root MSVD/YouTubeClips --output_dir eval/msvd

The annotation file is read in its public format (MSR-VTT 1k-A and full, MSVD, DiDeMo, ActivityNet Captions, LSMDC,
or the CLIP4Clip / UMT JSON; detected from its content, `--annotation_format` to insist; see
`viclip_train.eval.benchmarks`). Every video (8 frames at the middle of equal segments, resized to the model's input)
and every caption (cleaned and normalised as the reference's evaluation does, cut to 32 tokens) is embedded once, videos
decoded by DataLoader workers, in bf16 autocast on GPUs that support it. Embeddings are saved under
`<output_dir>/embeddings` as safetensors files keyed by the model and the set, and reused by the next run.

Metrics, both directions, from the video-by-text cosine similarities: R@1, R@5, R@10 (percent), median and mean rank;
a caption is correct when its own video ranks first, a video when any of its captions does. With `--dual_softmax`
(default) the same metrics of the dual-softmax re-scored similarities are reported beside them (`eval_dsl_*`).
They are written to `<output_dir>/eval_results.json` and to the `model-index` of a model card
`<output_dir>/README.md`, and printed as a table next to the published numbers.

Arguments come from the command line, or from a JSON file given as the first argument whose values later flags
override; `--help` lists them all.
"""

import json
import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import transformers
from huggingface_hub import EvalResult, ModelCard
from transformers import HfArgumentParser

from viclip import ViCLIPConfig, ViCLIPModel
from viclip_train.arguments import CommandHelpFormatter, check_positive, parse_arguments_with_json
from viclip_train.data.annotation_dataset import VideoDataset
from viclip_train.eval.benchmarks import (
    BENCHMARK_FORMATS,
    PUBLISHED_ZERO_SHOT_R1,
    RetrievalBenchmark,
    load_benchmark,
    resolve_benchmark_videos,
)
from viclip_train.eval.embeddings import (
    EmbeddingCache,
    benchmark_video_table,
    count_truncated_captions,
    embed_captions,
    embed_video_dataset,
    file_signature,
    model_fingerprint,
)
from viclip_train.eval.retrieval import RECALL_AT, benchmark_retrieval_metrics
from viclip_train.loading import load_processor
from viclip_train.model_card import (
    build_model_card,
    card_license,
    display_name,
    dual_encoder_classification_section,
    dual_encoder_usage,
    hub_repo_id,
    retrieval_eval_results,
    save_model_card,
    usage_model_id,
)


logger = logging.getLogger(__name__)

RESULTS_FILE = "eval_results.json"
DIRECTIONS = (("text-to-video", "t2v"), ("video-to-text", "v2t"))


@dataclass
class ModelArguments:
    """The model to evaluate."""

    model_name_or_path: str = field(
        metadata={"help": "A ViCLIPModel folder (a converted checkpoint, run_pretrain.py's output) or Hub id."}
    )
    attn_implementation: str = field(
        default="sdpa", metadata={"help": "Attention backend: sdpa, eager or flash_attention_2 (CUDA, flash-attn)."}
    )


@dataclass
class DataArguments:
    """The benchmark."""

    annotation_file: str = field(
        metadata={
            "help": "The benchmark's annotation file as published: MSRVTT_JSFUSION_test.csv (MSR-VTT 1k-A), "
            "MSRVTT_data.json (MSR-VTT full), raw-captions.pkl or AllVideoDescriptions.txt (MSVD), test_data.json "
            "(DiDeMo), val_1.json (ActivityNet Captions), LSMDC16_challenge_1000_publictect.csv (LSMDC), or a "
            "CLIP4Clip / UMT JSON list of {video, caption}."
        }
    )
    video_root: str | None = field(
        default=None,
        metadata={
            "help": "Folder holding the videos (e.g. MSRVTT/videos/all, MSVD/YouTubeClips, the LSMDC movie folders). "
            "Names without an extension are tried with .mp4, .avi, .mkv, ..."
        },
    )
    annotation_format: str = field(
        default="auto",
        metadata={
            "help": f"Format of --annotation_file: auto (detected from its content), {', '.join(BENCHMARK_FORMATS)}."
        },
    )
    split: str = field(
        default="test", metadata={"help": "Split of MSRVTT_data.json to evaluate (train, validate, test)."}
    )
    split_file: str | None = field(
        default=None,
        metadata={"help": "MSVD: the file listing the split's video ids, one per line (CLIP4Clip's test_list.txt)."},
    )
    paragraph: bool = field(
        default=False,
        metadata={
            "help": "json format: join each video's captions into one paragraph (paragraph retrieval, for the UMT "
            "DiDeMo and ActivityNet files). The didemo and activitynet formats always do."
        },
    )
    dataset_name: str | None = field(
        default=None, metadata={"help": "Name of the benchmark in the model card (default: from the format)."}
    )
    normalize_captions: bool = field(
        default=True,
        metadata={
            "help": "Normalise captions as the reference's evaluation does before tokenising (lower case, "
            "punctuation removed, - and / to spaces). false: only the tokenizer's cleaning."
        },
    )
    skip_missing_videos: bool = field(
        default=False,
        metadata={
            "help": "Evaluate on the videos found under --video_root, dropping missing ones with their captions "
            "(the numbers are then not comparable with published ones). Default: stop and list them."
        },
    )
    max_videos: int | None = field(
        default=None, metadata={"help": "Evaluate only the first N videos and their captions (a quick check)."}
    )
    video_backend: str | None = field(
        default=None, metadata={"help": "Video decoder: decord (default when installed, the reference's) or pyav."}
    )


@dataclass
class EvaluationArguments:
    """How the embeddings are computed, and where results go."""

    output_dir: str = field(
        metadata={"help": f"Where {RESULTS_FILE}, the model card README.md and the embeddings/ cache are written."}
    )
    num_frames: int | None = field(
        default=None, metadata={"help": "Frames per video (default: the processor's, 8 for the released models)."}
    )
    batch_size: int = field(default=32, metadata={"help": "Videos per forward pass."})
    text_batch_size: int = field(default=256, metadata={"help": "Captions per forward pass."})
    num_workers: int = field(
        default=4, metadata={"help": "DataLoader processes decoding videos while the model runs (0: in this one)."}
    )
    device: str | None = field(default=None, metadata={"help": "cuda, cuda:1, cpu ... (default: cuda if available)."})
    bf16: bool | None = field(
        default=None,
        metadata={
            "help": "bfloat16 autocast, as the reference evaluates. Default: on for CUDA devices that support "
            "bfloat16, off otherwise (float32)."
        },
    )
    dual_softmax: bool = field(
        default=True,
        metadata={"help": "Also report the metrics of the dual-softmax re-scored similarities (eval_dsl_*)."},
    )
    reuse_embeddings: bool = field(
        default=True,
        metadata={
            "help": "Reuse embeddings saved by an earlier run with the same model, videos, captions and settings "
            "(the file name is a hash of all of them). false: recompute (and overwrite)."
        },
    )
    embeddings_dir: str | None = field(
        default=None, metadata={"help": "Folder of the embedding files (default: <output_dir>/embeddings)."}
    )
    card_license: str | None = field(
        default=None,
        metadata={
            "help": "Hub licence id written in the model card (default: the one the model folder's own card "
            "declares; otherwise none, and the card says it is unknown)."
        },
    )
    progress: bool = field(default=True, metadata={"help": "Show progress bars."})


def check_arguments(data_args: DataArguments, eval_args: EvaluationArguments) -> None:
    """Refuses values that cannot work, before anything is loaded."""
    check_positive(eval_args.batch_size, "batch_size")
    check_positive(eval_args.text_batch_size, "text_batch_size")
    check_positive(data_args.max_videos, "max_videos")
    if eval_args.num_workers < 0:
        raise ValueError(f"--num_workers must be 0 or more, got {eval_args.num_workers}.")
    if data_args.video_root is not None and not os.path.isdir(data_args.video_root):
        raise FileNotFoundError(f"--video_root {data_args.video_root} is not a folder.")


def select_videos(benchmark: RetrievalBenchmark, data_args: DataArguments) -> tuple[RetrievalBenchmark, list[str]]:
    """The benchmark restricted to `--max_videos` and to the videos found, with each video's file."""
    if data_args.max_videos is not None and data_args.max_videos < len(benchmark.videos):
        benchmark = benchmark.select_videos(range(data_args.max_videos))
    paths, missing = resolve_benchmark_videos(benchmark, data_args.video_root)
    if missing:
        examples = ", ".join(" or ".join(benchmark.candidates[i]) for i in missing[:3])
        message = (
            f"{len(missing)} of the {len(benchmark.videos)} videos of {data_args.annotation_file} are not under "
            f"--video_root {data_args.video_root}: {examples}{' ...' if len(missing) > 3 else ''}."
        )
        if not data_args.skip_missing_videos:
            raise FileNotFoundError(
                f"{message} Check --video_root, or pass --skip_missing_videos to evaluate on the videos found (the "
                "numbers are then not comparable with published ones)."
            )
        logger.warning(f"{message} They are dropped with their captions (--skip_missing_videos).")
        kept = [index for index, path in enumerate(paths) if path is not None]
        benchmark = benchmark.select_videos(kept)
        paths = [paths[index] for index in kept]
    return benchmark, paths


def autocast_dtype(eval_args: EvaluationArguments, device: torch.device) -> torch.dtype | None:
    """bfloat16 when asked, or by default on CUDA devices that support it; `None` (float32) otherwise."""
    if eval_args.bf16 is None:
        return torch.bfloat16 if device.type == "cuda" and torch.cuda.is_bf16_supported() else None
    return torch.bfloat16 if eval_args.bf16 else None


def model_card_license(model_name_or_path: str, chosen: str | None) -> tuple[str | None, str]:
    """The card's licence (`None` when unknown) and the sentence explaining it."""
    if chosen:
        return chosen, "Set with `--card_license` by whoever ran this evaluation."
    declared = card_license(model_name_or_path)
    if declared:
        return declared, f"As declared by the card of the evaluated model ({display_name(model_name_or_path)})."
    return None, (
        f"Not known to this evaluation: the licence of the evaluated model ({display_name(model_name_or_path)}) "
        "applies; see its card. `--card_license` records one."
    )


def rank_eval_results(metrics: dict[str, float], prefix: str, config_suffix: str, **common) -> list[EvalResult]:
    """Median and mean rank of both directions as `model-index` results (lower is better)."""
    return [
        EvalResult(
            task_type="video-text-retrieval",
            metric_type=f"{rank}_rank",
            metric_name=f"{direction} {label}{config_suffix}",
            metric_config=f"{direction}{config_suffix}",
            metric_value=round(metrics[f"{prefix}{short}_{rank}_rank"], 2),
            **common,
        )
        for direction, short in DIRECTIONS
        for rank, label in (("median", "MdR"), ("mean", "MnR"))
    ]


def retrieval_model_card(
    model_args: ModelArguments,
    data_args: DataArguments,
    eval_args: EvaluationArguments,
    benchmark: RetrievalBenchmark,
    metrics: dict[str, float],
) -> ModelCard:
    """A card for the evaluated model whose `model-index` holds the recalls and ranks, raw and dual-softmax."""
    dataset_name = data_args.dataset_name or benchmark.name
    common = {"dataset_type": benchmark.format, "dataset_name": dataset_name, "dataset_split": data_args.split}
    eval_results = []
    scorings = [("eval_", "")] + ([("eval_dsl_", " (dual softmax)")] if eval_args.dual_softmax else [])
    for prefix, suffix in scorings:
        recalls = {
            f"{direction}{suffix}": {k: round(metrics[f"{prefix}{short}_r{k}"], 2) for k in RECALL_AT}
            for direction, short in DIRECTIONS
        }
        eval_results += retrieval_eval_results(recalls=recalls, **common)
        eval_results += rank_eval_results(metrics, prefix, suffix, task_name="Video-Text Retrieval", **common)
    license_id, license_note = model_card_license(model_args.model_name_or_path, eval_args.card_license)
    model_name = os.path.basename(os.path.normpath(model_args.model_name_or_path))
    model_id = hub_repo_id(model_args.model_name_or_path) or usage_model_id(None, model_args.model_name_or_path)
    paragraph = benchmark.format in ("didemo", "activitynet") or data_args.paragraph
    notes = (
        f"Zero-shot retrieval on {dataset_name} ({metrics['eval_num_videos']} videos, "
        f"{metrics['eval_num_captions']} captions{', paragraph retrieval' if paragraph else ''}) with "
        f"`run_retrieval.py`: one embedding per video from {metrics['eval_num_frames']} middle-sampled frames, "
        f"captions cut to 32 tokens ({metrics['eval_truncated_captions']} were longer); R@k in percent, median (MdR) "
        "and mean (MnR) rank. A caption is correct when its own video ranks first, a video when any of its captions "
        "does."
    )
    if eval_args.dual_softmax:
        notes += " Rows marked *dual softmax* re-score the similarity matrix with the dual softmax (DSL)."
    return build_model_card(
        model_name=model_name,
        summary=(
            "Retrieval evaluation of the ViCLIP video-text dual encoder "
            f"{display_name(model_args.model_name_or_path)}."
        ),
        usage=dual_encoder_usage(model_id),
        classification=dual_encoder_classification_section(model_id),
        license=license_id,
        license_note=license_note,
        datasets=[],
        tags=["video-text-retrieval"],
        base_model=hub_repo_id(model_args.model_name_or_path),
        eval_results=eval_results,
        eval_notes=notes,
    )


def results_table(metrics: dict[str, float], benchmark_format: str, dual_softmax: bool) -> str:
    """The metrics as a Markdown table, with the published R@1 of the released checkpoints on this benchmark."""
    rows = ["| Scores | Direction | R@1 | R@5 | R@10 | MdR | MnR |", "|---|---|---|---|---|---|---|"]
    for prefix, scores in [("eval_", "raw")] + ([("eval_dsl_", "dual softmax")] if dual_softmax else []):
        for direction, short in DIRECTIONS:
            values = [f"{metrics[f'{prefix}{short}_r{k}']:.1f}" for k in RECALL_AT]
            values += [f"{metrics[f'{prefix}{short}_{rank}_rank']:.1f}" for rank in ("median", "mean")]
            rows.append(f"| {scores} | {direction} | " + " | ".join(values) + " |")
    for model, published in PUBLISHED_ZERO_SHOT_R1.items():
        if benchmark_format in published:
            t2v, v2t = published[benchmark_format]
            rows.append(f"| published, {model} | text-to-video / video-to-text | {t2v} / {v2t} | | | | |")
    return "\n".join(rows)


def main() -> None:
    parser = HfArgumentParser(
        (ModelArguments, DataArguments, EvaluationArguments),
        description=__doc__,
        formatter_class=CommandHelpFormatter,
        allow_abbrev=False,
    )
    model_args, data_args, eval_args = parse_arguments_with_json(parser)
    logging.basicConfig(
        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S", level=logging.INFO
    )
    logger.setLevel(logging.INFO)
    transformers.utils.logging.set_verbosity_warning()
    check_arguments(data_args, eval_args)

    # The benchmark and its videos
    benchmark = load_benchmark(
        data_args.annotation_file,
        data_args.annotation_format,
        split=data_args.split,
        split_file=data_args.split_file,
        paragraph=data_args.paragraph,
    )
    benchmark, paths = select_videos(benchmark, data_args)
    logger.info(
        f"{benchmark.name} ({benchmark.format}) from {benchmark.source}: {len(benchmark.videos)} videos, "
        f"{len(benchmark.captions)} captions."
    )

    # The model
    device = torch.device(eval_args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    config = ViCLIPConfig.from_pretrained(model_args.model_name_or_path)
    model = ViCLIPModel.from_pretrained(
        model_args.model_name_or_path, attn_implementation=model_args.attn_implementation
    )
    model.to(device).eval()
    processor = load_processor(model_args.model_name_or_path, config)
    num_frames = eval_args.num_frames or processor.video_processor.num_frames
    precision = autocast_dtype(eval_args, device)
    logger.info(f"Embedding on {device} in {'bfloat16 autocast' if precision else 'float32'}.")
    cache = EmbeddingCache(Path(eval_args.embeddings_dir or os.path.join(eval_args.output_dir, "embeddings")))
    model_key = model_fingerprint(model_args.model_name_or_path, config)

    # Captions, each embedded once
    truncated = count_truncated_captions(processor, benchmark.captions, data_args.normalize_captions)
    logger.info(
        f"{truncated} of the {len(benchmark.captions)} captions are longer than the "
        f"{processor.tokenizer.model_max_length}-token context and are cut to it."
    )
    text_key = {
        "model": model_key,
        "captions": benchmark.captions,
        "normalize_captions": data_args.normalize_captions,
        "context": processor.tokenizer.model_max_length,
        "precision": str(precision),
    }
    saved = cache.load("captions", text_key) if eval_args.reuse_embeddings else None
    if saved is not None:
        text_embeds = saved["text_embeds"]
    else:
        text_embeds = embed_captions(
            model,
            processor,
            benchmark.captions,
            normalize_captions=data_args.normalize_captions,
            batch_size=eval_args.text_batch_size,
            autocast_dtype=precision,
            progress=eval_args.progress,
        )
        cache.save("captions", text_key, {"text_embeds": text_embeds})

    # Videos, each embedded once
    video_key = {
        "model": model_key,
        "videos": [file_signature(path) for path in paths],
        "windows": benchmark.windows,
        "num_frames": num_frames,
        "video_processor": processor.video_processor.to_dict(),
        "backend": data_args.video_backend,
        "precision": str(precision),
    }
    saved = cache.load("videos", video_key) if eval_args.reuse_embeddings else None
    if saved is not None:
        video_embeds = saved["video_embeds"]
    else:
        dataset = VideoDataset(
            benchmark_video_table(paths, benchmark.windows),
            processor.video_processor,
            num_frames=num_frames,
            video_backend=data_args.video_backend,
        )
        video_embeds, _ = embed_video_dataset(
            model,
            dataset,
            batch_size=eval_args.batch_size,
            num_workers=eval_args.num_workers,
            autocast_dtype=precision,
            progress=eval_args.progress,
        )
        cache.save("videos", video_key, {"video_embeds": video_embeds})

    # Unreadable videos (NaN rows) are dropped with their captions
    readable = (~video_embeds.isnan().any(dim=1)).nonzero().flatten().tolist()
    skipped = [benchmark.videos[index] for index in range(len(benchmark.videos)) if index not in set(readable)]
    if skipped:
        logger.warning(
            f"{len(skipped)} video(s) could not be read and are left out with their captions: {skipped[:5]}"
            f"{' ...' if len(skipped) > 5 else ''}"
        )
        kept_captions = [t for t, video in enumerate(benchmark.text_to_video) if video in set(readable)]
        text_embeds = text_embeds[kept_captions]
        benchmark = benchmark.select_videos(readable)
        video_embeds = video_embeds[readable]

    # Metrics
    similarity = video_embeds @ text_embeds.T  # [videos, captions], cosine
    metrics = {
        f"eval_{name}": value
        for name, value in benchmark_retrieval_metrics(
            similarity, benchmark.text_to_video, dual_softmax=eval_args.dual_softmax
        ).items()
    }
    metrics.update(
        {
            "eval_num_videos": len(benchmark.videos),
            "eval_num_captions": len(benchmark.captions),
            "eval_truncated_captions": truncated,
            "eval_skipped_videos": len(skipped),
            "eval_num_frames": num_frames,
        }
    )
    os.makedirs(eval_args.output_dir, exist_ok=True)
    results = {
        **metrics,
        "benchmark": benchmark.format,
        "dataset_name": data_args.dataset_name or benchmark.name,
        "annotation_file": data_args.annotation_file,
        "model_name_or_path": model_args.model_name_or_path,
        "arguments": {**asdict(data_args), **asdict(eval_args)},
    }
    with open(os.path.join(eval_args.output_dir, RESULTS_FILE), "w", encoding="utf-8") as handle:
        json.dump(results, handle, indent=2)
    save_model_card(retrieval_model_card(model_args, data_args, eval_args, benchmark, metrics), eval_args.output_dir)
    print(results_table(metrics, benchmark.format, eval_args.dual_softmax))
    logger.info(f"Wrote {RESULTS_FILE} and README.md to {eval_args.output_dir}.")


if __name__ == "__main__":
    main()
