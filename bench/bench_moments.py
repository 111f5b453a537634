"""Benchmark of moment indexing on the CPU: windows per second of `index_videos` (decoding in DataLoader workers while
the model runs) against the model alone on the same windows, decoded beforehand.

    python bench/bench_moments.py
    python bench/bench_moments.py --windows 48 --batch_size 8 --rounds 3 --frame_size 320

The model is ViCLIP-B/16 with random weights (224x224, 8 frames per window; throughput does not depend on the
weights). The videos are synthetic (moving shapes, `--frame_size` square frames at 8 fps, H.264 with x264's default
key-frame interval, so a window far into a video is decoded from the key frame before it): `--num_videos` videos whose
8 s windows every 4 s add up to `--windows`. Each round times, one after the other on the same windows: the model alone
on pre-decoded batches, the indexer with `--num_workers` decoding workers, and the indexer decoding in the main
process (no overlap). The table gives medians over rounds: "of model-only" is the indexer's throughput over the
model's in the same round, and "model busy" the share of the indexer's own time spent in the model (the target is at
least 90 %: decoding hidden behind the model). The indexer's time includes its start (worker processes, reading
durations, the first batch's decoding, which nothing hides). On a shared machine the load changes between
measurements, which moves "of model-only" (measured minutes apart) far more than "model busy" (measured within one
run): compare rows of one run only.
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from viclip import ViCLIPConfig, ViCLIPModel, ViCLIPProcessor
from viclip_train.data.synthetic import COLORS, DIRECTIONS, SHAPES, render_clip, write_video
from viclip_train.data.video_reading import video_duration
from viclip_train.moments.index import index_videos
from viclip_train.moments.windows import VideoEmbedder, VideoWindow, VideoWindowDataset, sliding_windows


WINDOW_SECONDS, STRIDE_SECONDS, FPS, CLIP_FRAMES = 8.0, 4.0, 8, 16


def write_videos(folder: Path, num_videos: int, windows: int, frame_size: int) -> list[Path]:
    """`num_videos` videos of stitched 2 s clips, long enough for `windows` windows in all."""
    rng = np.random.default_rng(0)
    per_video = [windows // num_videos + (index < windows % num_videos) for index in range(num_videos)]
    paths = []
    for index, count in enumerate(per_video):
        seconds = WINDOW_SECONDS + STRIDE_SECONDS * (count - 1)  # exactly `count` windows
        clips = []
        for _ in range(int(seconds * FPS) // CLIP_FRAMES):
            color = list(COLORS)[rng.integers(len(COLORS))]
            shape, direction = SHAPES[rng.integers(len(SHAPES))], list(DIRECTIONS)[rng.integers(len(DIRECTIONS))]
            clips.append(render_clip(color, shape, direction, num_frames=CLIP_FRAMES, frame_size=frame_size, rng=rng))
        path = folder / f"video_{index:02d}.mp4"
        write_video(path, np.concatenate(clips), fps=FPS)
        paths.append(path)
    return paths


def decoded_batches(paths: list[Path], video_processor, batch_size: int) -> list[torch.Tensor]:
    """The windows of `paths`, read and transformed as the indexer does, in batches."""
    windows = [
        VideoWindow(str(path), start, end)
        for path in paths
        for start, end in sliding_windows(video_duration(path), WINDOW_SECONDS, STRIDE_SECONDS)
    ]
    dataset = VideoWindowDataset(windows, video_processor)
    items = [dataset[position]["pixel_values"] for position in range(len(dataset))]
    return [torch.stack(items[start : start + batch_size]) for start in range(0, len(items), batch_size)]


def time_model_only(embed: VideoEmbedder, batches: list[torch.Tensor]) -> dict[str, float]:
    started = time.perf_counter()
    for pixel_values in batches:
        embed(pixel_values)
    seconds = time.perf_counter() - started
    return {"windows_per_second": sum(len(batch) for batch in batches) / seconds, "busy": 1.0}


def time_indexer(
    embed: VideoEmbedder, processor, video_dir: Path, batch_size: int, num_workers: int
) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as index_dir:
        summary = index_videos(
            video_dir,
            index_dir,
            embed,
            processor.video_processor,
            model_id="random ViCLIP-B/16",
            window_seconds=WINDOW_SECONDS,
            stride_seconds=STRIDE_SECONDS,
            batch_size=batch_size,
            num_workers=num_workers,
            progress=False,
        )
    return {"windows_per_second": summary.windows_per_second, "busy": summary.model_busy_share}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False
    )
    parser.add_argument("--windows", type=int, default=24, help="Windows indexed per measurement (8 s every 4 s).")
    parser.add_argument("--num_videos", type=int, default=2, help="Videos the windows are spread over.")
    parser.add_argument("--frame_size", type=int, default=256, help="Side of the videos' square frames, pixels.")
    parser.add_argument("--batch_size", type=int, default=8, help="Windows per forward pass.")
    parser.add_argument("--num_workers", type=int, default=2, help="Decoding worker processes of the indexer.")
    parser.add_argument("--rounds", type=int, default=2, help="Rounds of the three measurements (median reported).")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's).")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.windows < args.num_videos or args.num_videos < 1:
        parser.error("--windows must be at least --num_videos, which must be at least 1.")

    torch.manual_seed(0)
    config = ViCLIPConfig.from_preset("viclip-b16")
    model = ViCLIPModel(config).eval()
    processor = ViCLIPProcessor.from_model_config(config)
    embed = VideoEmbedder(model)
    with tempfile.TemporaryDirectory() as work_dir:
        video_dir = Path(work_dir) / "videos"
        video_dir.mkdir()
        paths = write_videos(video_dir, args.num_videos, args.windows, args.frame_size)
        batches = decoded_batches(paths, processor.video_processor, args.batch_size)
        embed(batches[0])  # warm-up
        rows = {
            "model only (windows decoded beforehand)": [],
            f"indexer, decoding in {args.num_workers} worker processes": [],
            "indexer, decoding in the main process (no overlap)": [],
        }
        for _ in range(args.rounds):
            rows["model only (windows decoded beforehand)"].append(time_model_only(embed, batches))
            rows[f"indexer, decoding in {args.num_workers} worker processes"].append(
                time_indexer(embed, processor, video_dir, args.batch_size, args.num_workers)
            )
            rows["indexer, decoding in the main process (no overlap)"].append(
                time_indexer(embed, processor, video_dir, args.batch_size, 0)
            )

    def median(results: list[dict[str, float]], key: str) -> float:
        return statistics.median(result[key] for result in results)

    model_only = rows["model only (windows decoded beforehand)"]
    print(
        f"CPU, torch {torch.__version__}, {torch.get_num_threads()} threads; ViCLIP-B/16 (random weights), 8 frames "
        f"of 224x224 per window; {sum(len(batch) for batch in batches)} windows of {WINDOW_SECONDS:g} s every "
        f"{STRIDE_SECONDS:g} s in {args.num_videos} synthetic videos of {args.frame_size}x{args.frame_size} at {FPS} "
        f"fps; batch {args.batch_size}; median of {args.rounds} rounds, measured side by side.\n"
    )
    print("| Measurement | Windows/s | Of model-only | Model busy |")
    print("|---|---|---|---|")
    for name, results in rows.items():
        # each round's throughput over the model-only throughput of the same round (measured just before)
        ratio = statistics.median(
            result["windows_per_second"] / reference["windows_per_second"]
            for result, reference in zip(results, model_only, strict=True)
        )
        speed = median(results, "windows_per_second")
        print(f"| {name} | {speed:.3f} | {ratio:.1%} | {median(results, 'busy'):.1%} |")


if __name__ == "__main__":
    main()
