"""Benchmark of large annotation files on the library's own loading path: time from the start of `run_pretrain.py` to
the end of its first training step, and the peak resident memory of that process (one rank), for InternVid-layout
files of 1M and 10M rows in CSV and JSON Lines, before the Arrow cache exists (the one-time conversion included) and
after, beside a 1,000-row file.

    python bench/bench_annotations.py --rows 1000000 10000000 --work_dir /tmp/scale/annotations

The files (and 20 tiny videos that every row points into) are generated once under --work_dir; keep it out of the
repository. Each measurement is a fresh process (a tiny model, batch 2, no DataLoader worker, one step). Prints a
Markdown table and the machine's load average when it started.
"""

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
NUM_VIDEOS = 20


def write_files(work_dir: Path, rows: int, file_format: str) -> Path:
    """An InternVid-layout annotation file of `rows` rows (generated once) pointing into the tiny videos."""
    path = work_dir / f"internvid-{rows}.{file_format}"
    if path.is_file():
        return path
    generator = random.Random(rows)
    words = "a man woman dog cat car street kitchen plays runs cooks talks near the in on with red blue".split()
    temporary = path.with_suffix(".partial")
    with open(temporary, "w", encoding="utf-8") as handle:
        if file_format == "csv":
            handle.write("YoutubeID,Start_timestamp,End_timestamp,Caption,Aesthetic_Score,UMT_Score\n")
        for row in range(rows):
            caption = " ".join(generator.choice(words) for _ in range(10))
            video = f"v{row % NUM_VIDEOS:03d}"
            aesthetic, umt = round(generator.uniform(3, 6), 6), round(generator.uniform(0.3, 0.5), 6)
            if file_format == "csv":
                handle.write(f"{video},00:00:00.000,00:00:00.900,{caption},{aesthetic},{umt}\n")
            else:
                handle.write(
                    json.dumps(
                        {
                            "YoutubeID": video,
                            "Start_timestamp": "00:00:00.000",
                            "End_timestamp": "00:00:00.900",
                            "Caption": caption,
                            "Aesthetic_Score": aesthetic,
                            "UMT_Score": umt,
                        }
                    )
                    + "\n"
                )
    os.replace(temporary, path)
    return path


def write_videos(work_dir: Path) -> Path:
    import numpy as np

    from viclip_train.data.synthetic import render_clip, write_video

    folder = work_dir / "videos"
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(NUM_VIDEOS):
        path = folder / f"v{index:03d}.mp4"
        if not path.is_file():
            frames = render_clip(
                "red", "square", "left", num_frames=8, frame_size=32, rng=np.random.default_rng(index)
            )
            write_video(path, frames)
    return folder


def child(annotation_file: str, video_root: str, cache_dir: str, output_dir: str) -> None:
    """One measured run: run_pretrain.main() for one step; prints the time to the first step and the peak RSS."""
    started = time.perf_counter()
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "tests"))
    from conftest import tiny_config_kwargs
    from transformers import TrainerCallback

    import run_pretrain
    from viclip_train.trainer import ViCLIPTrainer

    first_step = {}

    class FirstStep(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            first_step.setdefault("seconds", time.perf_counter() - started)

    init = ViCLIPTrainer.__init__

    def init_with_timer(self, *args, **kwargs):
        init(self, *args, **kwargs)
        self.add_callback(FirstStep())

    ViCLIPTrainer.__init__ = init_with_timer
    model = tiny_config_kwargs()
    config = {
        "train_file": annotation_file,
        "video_root": video_root,
        "annotation_cache_dir": cache_dir,
        "config_name": "viclip-b16",
        "config_overrides": {key: model[key] for key in ("projection_dim", "text_config", "vision_config")},
        "output_dir": output_dir,
        "do_train": True,
        "max_steps": 1,
        "per_device_train_batch_size": 2,
        "save_strategy": "no",
        "dataloader_num_workers": 0,
        "report_to": "none",
        "use_cpu": True,
        "log_level": "error",
        "disable_tqdm": True,
    }
    config_file = Path(output_dir).with_suffix(".json")
    config_file.write_text(json.dumps(config))
    sys.argv = ["run_pretrain.py", str(config_file)]
    run_pretrain.main()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"first_step_seconds": first_step["seconds"], "peak_rss_bytes": peak}))


def measure(annotation_file: Path, video_root: Path, cache_dir: Path, work_dir: Path) -> dict:
    output_dir = work_dir / "runs" / f"{annotation_file.stem}-{time.time_ns()}"
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        __file__,
        "--child",
        str(annotation_file),
        str(video_root),
        str(cache_dir),
        str(output_dir),
    ]
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, capture_output=True, text=True, env=environment)
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-3000:])
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False
    )
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000], help="Row counts to measure.")
    parser.add_argument("--formats", nargs="+", default=["csv", "jsonl"], help="File formats (csv, jsonl).")
    parser.add_argument("--work_dir", default="/tmp/viclip-bench-annotations", help="Generated files and caches.")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    work_dir = Path(args.work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()
    video_root = write_videos(work_dir)
    lines = [
        "| rows | format | Arrow cache | time to the first training step | peak RSS of the rank |",
        "|---|---|---|---|---|",
    ]
    small = write_files(work_dir, 1000, "csv")
    cache = work_dir / "cache-small"
    measure(small, video_root, cache, work_dir)
    baseline = measure(small, video_root, cache, work_dir)
    lines.append(
        f"| 1,000 | csv | present | {baseline['first_step_seconds']:.1f} s | "
        f"{baseline['peak_rss_bytes'] / 2**30:.2f} GiB |"
    )
    print(lines[0], lines[1], lines[2], sep="\n", flush=True)
    for rows in args.rows:
        for file_format in args.formats:
            path = write_files(work_dir, rows, file_format)
            cache = work_dir / f"cache-{rows}-{file_format}-{time.time_ns()}"
            for state in ("absent (converted in this run)", "present"):
                result = measure(path, video_root, cache, work_dir)
                line = (
                    f"| {rows:,} | {file_format} | {state} | {result['first_step_seconds']:.1f} s | "
                    f"{result['peak_rss_bytes'] / 2**30:.2f} GiB (+{(result['peak_rss_bytes'] - baseline['peak_rss_bytes']) / 2**30:.2f}) |"
                )
                lines.append(line)
                print(line, flush=True)
    print(
        f"\nLoad average at the start (1, 5, 15 min): {load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f} on "
        f"{os.cpu_count()} cores."
    )


if __name__ == "__main__":
    main()
