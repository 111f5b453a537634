"""Benchmark of video classification on the CPU: clips per second of fine-tuning steps and of evaluation (zero-shot
and fine-tuned, one view and multi-view), data loading included, with the share of time spent reading videos.

    python bench/bench_classification.py
    python bench/bench_classification.py --steps 5 --eval_videos 24 --b16

Models are randomly initialised (throughput does not depend on the weights): the demo model of `configs/demo.json`
(which `configs/demo_classification.json` fine-tunes: 64x64, 8 frames, patch 16, width 96, 3 layers) as a 4-class
classifier and as the dual encoder of zero-shot evaluation, and with `--b16` ViCLIP-B/16 (224x224, 8 frames). Data is
the embedded synthetic corpus (64x64 mp4 clips, 4 direction classes; generated once under --corpus_dir). Batches are
read in the main process (`num_workers=0`) so that reading and computing are timed apart; with DataLoader workers the
two overlap. A "clip" is one `[frames, 3, H, W]` input to the video tower: a multi-view evaluation of a video costs
`clips x crops` clips, decoded in one pass. Prints a Markdown table.
"""

import argparse
import json
import time
from pathlib import Path

import torch
from training_steps import adamw_with_decay_groups, time_training_steps

from viclip import ViCLIPConfig, ViCLIPForVideoClassification, ViCLIPModel, ViCLIPProcessor
from viclip.pipeline_viclip import KINETICS_TEMPLATES
from viclip_train.data.annotation_dataset import VideoDataset
from viclip_train.data.annotations import load_annotations
from viclip_train.data.collator import VideoDataCollator
from viclip_train.data.evaluation_views import EvaluationVideoDataset
from viclip_train.data.synthetic import make_synthetic_corpus
from viclip_train.eval.classification import zero_shot_scorer


ROOT = Path(__file__).resolve().parents[1]


def demo_config(**extra) -> ViCLIPConfig:
    """The model of `configs/demo.json` (the pretraining demo, fine-tuned by `configs/demo_classification.json`)."""
    arguments = json.loads((ROOT / "configs" / "demo.json").read_text())
    return ViCLIPConfig.from_preset(arguments["config_name"], **arguments["config_overrides"], **extra)


def time_fine_tuning(config: ViCLIPConfig, corpus, batch_size: int, steps: int) -> dict[str, float]:
    """`steps` timed fine-tuning steps (after one warm-up step) of a classifier: reading, forward, backward, AdamW."""
    torch.manual_seed(0)
    model = ViCLIPForVideoClassification(config).train()
    optimizer = adamw_with_decay_groups(model, weight_decay=0.05, lr=1e-4)
    processor = ViCLIPProcessor.from_model_config(config)
    annotations = load_annotations(corpus.annotation_file("train"), caption_column=None, label_column="label")
    dataset = VideoDataset(
        annotations,
        processor.video_processor,
        video_root=corpus.root,
        train=True,
    )
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=batch_size, shuffle=True, collate_fn=VideoDataCollator(), num_workers=0
    )
    result = time_training_steps(model, optimizer, loader, steps, lambda batch: model(**batch).loss)
    return {**result, "videos_per_second": result["clips_per_second"], "read_share": result["data_share"]}


@torch.no_grad()
def time_evaluation(
    score, processor, corpus, batch_size: int, videos: int, clips: int, crops: int
) -> dict[str, float]:
    """Scores `videos` validation videos (after one warm-up batch) through [`EvaluationVideoDataset`] batches."""
    annotations = load_annotations(corpus.annotation_file("val"), caption_column=None, label_column="label")
    annotations = annotations.select(range(min(videos + batch_size, len(annotations))))
    dataset = EvaluationVideoDataset(
        annotations, processor.video_processor, video_root=corpus.root, num_clips=clips, num_crops=crops
    )
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, collate_fn=VideoDataCollator(), num_workers=0)
    data_seconds = model_seconds = 0.0
    counted = 0
    batches = iter(loader)
    for position in range(len(loader)):
        start = time.perf_counter()
        batch = next(batches)
        loaded = time.perf_counter()
        pixel_values = batch["pixel_values"]
        score(pixel_values.flatten(0, 1)).view(*pixel_values.shape[:2], -1).mean(dim=1)
        done = time.perf_counter()
        if position > 0:
            data_seconds += loaded - start
            model_seconds += done - loaded
            counted += pixel_values.shape[0]
    total = data_seconds + model_seconds
    return {
        "clips_per_second": counted * clips * crops / total,
        "videos_per_second": counted / total,
        "read_share": data_seconds / total,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False
    )
    parser.add_argument("--corpus_dir", default=str(ROOT / "data" / "synthetic"), help="Synthetic corpus folder.")
    parser.add_argument("--steps", type=int, default=10, help="Timed fine-tuning steps per row (after a warm-up).")
    parser.add_argument("--batch_size", type=int, default=16, help="Clips per fine-tuning step, demo model.")
    parser.add_argument("--eval_videos", type=int, default=48, help="Timed evaluation videos per row.")
    parser.add_argument("--eval_batch_size", type=int, default=12, help="Videos per evaluation batch.")
    parser.add_argument("--b16", action="store_true", help="Also time ViCLIP-B/16 (224x224, 8 frames): slow on CPUs.")
    parser.add_argument("--b16_batch_size", type=int, default=4, help="Clips per step / videos per batch for B/16.")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's).")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    corpus = make_synthetic_corpus(args.corpus_dir)
    templates = list(KINETICS_TEMPLATES)
    class_names = corpus.label_names

    num_labels = len(class_names)
    models = [
        (
            "demo",
            demo_config(num_labels=num_labels),
            demo_config(),
            1,
        )
    ]
    if args.b16:
        models.append(
            (
                "ViCLIP-B/16",
                ViCLIPConfig.from_preset("viclip-b16", num_labels=num_labels),
                ViCLIPConfig.from_preset("viclip-b16"),
                args.b16_batch_size / args.batch_size,
            )
        )
    rows = []
    for name, classifier_config, dual_config, scale in models:
        batch_size = max(1, round(args.batch_size * scale))
        eval_batch_size = max(1, round(args.eval_batch_size * scale))
        eval_videos = max(eval_batch_size, round(args.eval_videos * scale))
        result = time_fine_tuning(classifier_config, corpus, batch_size, args.steps)
        rows.append(("fine-tuning step (train transform, no flip)", name, batch_size, 1, result))

        torch.manual_seed(0)
        dual_encoder = ViCLIPModel(dual_config).eval()
        processor = ViCLIPProcessor.from_model_config(dual_config)
        started = time.perf_counter()
        score = zero_shot_scorer(dual_encoder, processor, class_names, templates)
        label_seconds = time.perf_counter() - started
        result = time_evaluation(score, processor, corpus, eval_batch_size, eval_videos, 1, 1)
        rows.append(
            (f"zero-shot eval (labels embedded once: {label_seconds:.2f} s)", name, eval_batch_size, 1, result)
        )

        classifier = ViCLIPForVideoClassification(classifier_config).eval()
        processor = ViCLIPProcessor.from_model_config(classifier_config)

        def classify(pixel_values: torch.Tensor, model: ViCLIPForVideoClassification = classifier) -> torch.Tensor:
            return model(pixel_values=pixel_values).logits

        for clips, crops in ((1, 1), (2, 3)):
            result = time_evaluation(
                classify,
                processor,
                corpus,
                eval_batch_size,
                eval_videos,
                clips,
                crops,
            )
            rows.append(
                (f"fine-tuned eval, {clips} clip(s) x {crops} crop(s)", name, eval_batch_size, clips * crops, result)
            )

    print(f"CPU, torch {torch.__version__}, {torch.get_num_threads()} threads, data read in the main process.\n")
    print("| Measurement | Model | Batch (videos) | Views/video | Clips/s | Videos/s | Reading share |")
    print("|---|---|---|---|---|---|---|")
    for measurement, name, batch_size, views, result in rows:
        print(
            f"| {measurement} | {name} | {batch_size} | {views} | {result['clips_per_second']:.1f} | "
            f"{result['videos_per_second']:.1f} | {result['read_share']:.0%} |"
        )


if __name__ == "__main__":
    main()
