"""Benchmark of whole pretraining steps on the CPU, data loading included: clips per second for the demo model and
ViCLIP-B/16 with token mask ratio 0.9 against 0, and the share of each step spent reading videos (decode, transform,
collate) versus in the model (forward, backward, optimizer step).

    python bench/bench_pretrain.py
    python bench/bench_pretrain.py --steps 5 --b16_batch_size 4

The data is the embedded synthetic corpus (64x64 mp4 clips; generated once under --corpus_dir). Batches are read in the
main process (`num_workers=0`) so that reading and computing are timed apart; with DataLoader workers the two overlap
and a step costs about the larger of the two. Prints a Markdown table.
"""

import argparse
import json
from pathlib import Path

import torch
from training_steps import adamw_with_decay_groups, time_training_steps

from viclip import ViCLIPConfig, ViCLIPModel, ViCLIPProcessor
from viclip_train.data.annotation_dataset import VideoDataset
from viclip_train.data.annotations import load_annotations
from viclip_train.data.collator import VideoDataCollator
from viclip_train.data.synthetic import make_synthetic_corpus


ROOT = Path(__file__).resolve().parents[1]


def demo_config() -> ViCLIPConfig:
    """The model of `configs/demo.json`."""
    overrides = json.loads((ROOT / "configs" / "demo.json").read_text())["config_overrides"]
    return ViCLIPConfig.from_preset("viclip-b16", **overrides)


def time_steps(config: ViCLIPConfig, corpus, mask_ratio: float, batch_size: int, steps: int) -> dict[str, float]:
    """Runs `steps` timed training steps (after one warm-up step) and returns clips/s and the time split."""
    torch.manual_seed(0)
    model = ViCLIPModel(config).train()
    model.text_model.requires_grad_(False)
    model.text_projection.requires_grad_(False)
    optimizer = adamw_with_decay_groups(model, weight_decay=0.2, lr=1e-4, betas=(0.9, 0.98))
    processor = ViCLIPProcessor.from_model_config(config)
    dataset = VideoDataset(
        load_annotations(corpus.annotation_file("train")),
        processor.video_processor,
        video_root=corpus.root,
        train=True,
    )
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=batch_size, shuffle=True, collate_fn=VideoDataCollator(processor), num_workers=0
    )
    return time_training_steps(
        model, optimizer, loader, steps, lambda batch: model(**batch, return_loss=True, mask_ratio=mask_ratio).loss
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False
    )
    parser.add_argument("--corpus_dir", default=str(ROOT / "data" / "synthetic"), help="synthetic corpus folder")
    parser.add_argument("--steps", type=int, default=3, help="timed steps per row, after one warm-up step")
    parser.add_argument("--demo_batch_size", type=int, default=32, help="clips per step for the demo model")
    parser.add_argument("--b16_batch_size", type=int, default=2, help="clips per step for ViCLIP-B/16")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    corpus = make_synthetic_corpus(args.corpus_dir)
    print(
        f"Pretraining steps on the CPU, {torch.get_num_threads()} threads, synthetic 64x64 clips, text tower frozen\n"
    )
    header = ["model", "mask ratio", "batch", "s / step", "clips / s", "reading videos", "model"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for name, config, batch_size in (
        ("demo", demo_config(), args.demo_batch_size),
        ("ViCLIP-B/16", ViCLIPConfig.from_preset("viclip-b16"), args.b16_batch_size),
    ):
        for mask_ratio in (0.9, 0.0):
            result = time_steps(config, corpus, mask_ratio, batch_size, args.steps)
            row = [
                name,
                f"{mask_ratio}",
                f"{batch_size}",
                f"{result['seconds_per_step']:.2f}",
                f"{result['clips_per_second']:.1f}",
                f"{100 * result['data_share']:.0f}%",
                f"{100 * result['model_share']:.0f}%",
            ]
            print("| " + " | ".join(row) + " |", flush=True)


if __name__ == "__main__":
    main()
