"""Benchmark of the scoring job (`viclip_train.score`): rows per second of `run_score_job` (decoding in DataLoader
workers while the model runs), per core, against the model alone on the same batches decoded beforehand; the share
of the job's time the model waits for data.

    python bench/bench_score.py
    python bench/bench_score.py --rows 64 --batch_size 16 --num_workers 2 --rounds 2
    python bench/bench_score.py --device cuda --model l14 --dtype bfloat16 --rows 512 --batch_size 64 --num_workers 8

The model has random weights (throughput does not depend on them): ViCLIP-B/16 by default (`--model l14`, or `tiny`
for a smoke run), 8 frames of 224x224 per clip. The rows are the synthetic corpus (moving shapes, `--frame_size`
square frames, 16 frames at 8 fps, H.264) as an annotation file, with captions: each row is decoded, resized, sent
as uint8, normalised on the device, embedded and scored against its caption. Each round times, one after the other:
the model alone (video and text towers) on pre-decoded uint8 batches, the job with `--num_workers` decoding workers,
and the job decoding in the main process. The table gives medians over rounds: rows/s, rows/s per core (the cores this
process may use), "of model-only" (the job's throughput over the model's in the same round) and "model waits" (the
share of the job's time outside the model: 0 % when decoding is entirely hidden behind the model).
"""

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch

from viclip import ViCLIPConfig, ViCLIPModel, ViCLIPProcessor
from viclip.pipeline_viclip import embed_texts, embed_videos
from viclip_train.data.clips import normalize_pixel_values
from viclip_train.data.synthetic import make_synthetic_corpus
from viclip_train.score import ScoreRowDataset, load_annotation_rows, run_score_job


DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
TINY = {
    "projection_dim": 16,
    "text_config": {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4},
    "vision_config": {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4},
}


def build_model(name: str, device: str, dtype: torch.dtype) -> tuple[ViCLIPModel, ViCLIPProcessor]:
    torch.manual_seed(0)
    config = ViCLIPConfig.from_preset("viclip-b16", **TINY) if name == "tiny" else ViCLIPConfig.from_preset(name)
    model = ViCLIPModel(config).to(device=device, dtype=dtype).eval()
    return model, ViCLIPProcessor.from_model_config(config)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_model_only(model, processor, batches: list[tuple[torch.Tensor, list[str]]]) -> dict[str, float]:
    """The model on uint8 batches already decoded: upload, normalise, both towers, the cosine."""
    device = next(model.parameters()).device
    synchronize(device)
    started = time.perf_counter()
    with torch.inference_mode():
        for pixel_values, captions in batches:
            pixel_values = normalize_pixel_values(pixel_values.to(device), processor.video_processor)
            (embed_videos(model, pixel_values) * embed_texts(model, processor, captions)).sum(-1).cpu()
    synchronize(device)
    seconds = time.perf_counter() - started
    return {"rows_per_second": sum(len(captions) for _, captions in batches) / seconds, "waits": 0.0}


def time_job(model, processor, rows, batch_size: int, num_workers: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as output_dir:
        summary = run_score_job(rows, model, processor, output_dir, batch_size=batch_size, num_workers=num_workers,
                                chunk_rows=max(len(rows), 1), progress=False)  # fmt: skip
    return {"rows_per_second": summary.rows_per_second, "waits": 1.0 - summary.model_seconds / summary.seconds}


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False
    )
    parser.add_argument("--rows", type=int, default=32, help="Rows (clips with captions) scored per measurement.")
    parser.add_argument("--frame_size", type=int, default=256, help="Side of the clips' square frames, pixels.")
    parser.add_argument("--model", default="viclip-b16", choices=["viclip-b16", "viclip-l14", "b16", "l14", "tiny"],
                        help="Model size (random weights).")  # fmt: skip
    parser.add_argument("--batch_size", type=int, default=8, help="Rows per forward pass.")
    parser.add_argument("--num_workers", type=int, default=2, help="Decoding worker processes of the job.")
    parser.add_argument("--rounds", type=int, default=2, help="Rounds of the three measurements (median reported).")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", help="cpu or cuda.")
    parser.add_argument("--dtype", default="float32", choices=list(DTYPES), help="Model dtype.")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's).")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    model, processor = build_model(args.model, args.device, DTYPES[args.dtype])
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    with tempfile.TemporaryDirectory() as work_dir:
        corpus = make_synthetic_corpus(Path(work_dir) / "corpus", num_train=args.rows, num_val=1,
                                       frame_size=args.frame_size)  # fmt: skip
        rows = load_annotation_rows(corpus.annotation_file("train"), video_root=str(corpus.root))
        dataset = ScoreRowDataset(rows, processor.video_processor)
        items = [dataset[row] for row in range(len(rows))]
        batches = [
            (torch.stack([item["pixel_values"] for item in items[start : start + args.batch_size]]),
             rows.clips.select(range(start, min(start + args.batch_size, len(rows))))["caption"])
            for start in range(0, len(items), args.batch_size)
        ]  # fmt: skip
        time_model_only(model, processor, batches[:1])  # warm-up
        names = ["model only (uint8 batches decoded beforehand)", f"job, decoding in {args.num_workers} workers",
                 "job, decoding in the main process (no overlap)"]  # fmt: skip
        results = {name: [] for name in names}
        for _ in range(args.rounds):
            results[names[0]].append(time_model_only(model, processor, batches))
            results[names[1]].append(time_job(model, processor, rows, args.batch_size, args.num_workers))
            results[names[2]].append(time_job(model, processor, rows, args.batch_size, 0))
    print(
        f"{args.device} ({cores} cores), torch {torch.__version__}, {torch.get_num_threads()} threads; {args.model} "
        f"(random weights, {args.dtype}), 8 frames of 224x224 per clip; {args.rows} synthetic clips of "
        f"{args.frame_size}x{args.frame_size}, batch {args.batch_size}; median of {args.rounds} rounds.\n"
    )
    print("| Measurement | Rows/s | Rows/s per core | Of model-only | Model waits |")
    print("|---|---|---|---|---|")
    table = []
    for name, measured in results.items():
        speed = statistics.median(result["rows_per_second"] for result in measured)
        ratio = statistics.median(
            result["rows_per_second"] / reference["rows_per_second"]
            for result, reference in zip(measured, results[names[0]], strict=True)
        )
        waits = statistics.median(result["waits"] for result in measured)
        print(f"| {name} | {speed:.2f} | {speed / cores:.2f} | {ratio:.1%} | {waits:.1%} |")
        table.append({"measurement": name, "rows_per_second": speed, "of_model_only": ratio, "model_waits": waits})
    return table


if __name__ == "__main__":
    main()
