# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""
The shard writer: cuts every clip window of an annotation file out of its source video, scales it, re-encodes it for
fast random frame access, and writes WebDataset tar shards that [`viclip_train.data.shards.ShardedVideoDataset`] reads.

    python -m viclip_train.data.shard_writer --annotations InternVid-10M-FLT.jsonl --video_root videos/ \
        --output_dir shards/ --samples_per_shard 1000 --num_workers 16

Rows are taken in file order; shard `k` (`{k:05d}.tar`) holds rows `[k * N, (k + 1) * N)` that could be cut, each as
the clip, `<row>.txt` (the caption) and `<row>.json` (the caption, the source video, the window `start`/`end` in
seconds, the row index and every other column of the row, such as `YoutubeID`, `Aesthetic_Score`, `UMT_Score`). The
clip is `<row>.mp4` (`--clip_format mp4`, the default: H.264, short side `--short_side`, the source's frame rate, a key
frame every `--gop` frames, no B-frames) or its segments' JPEG frames `<row>.f<segment><copy>.jpg` (`--clip_format
frames`: `--frames_per_segment` frames of each of `--num_segments` segments, short side `--short_side`; see
`viclip_train.data.frame_clips`), which decode several times faster and can be decoded on the GPU.

A shard is written to a temporary name and renamed when complete, beside its record `{k:05d}.stats.json` (samples,
bytes, failures, and what it was written with: the annotation file's content hash, the options and its rows): rerunning
the same command keeps the finished shards and redoes the others; a rerun with another annotation file (or the same
one edited) or other options is refused naming what differs, since mixing shards of both would duplicate or drop clips
(`--overwrite` starts over). Temporary files of killed runs are removed when a run starts. `manifest.json`,
written at the end, lists every shard with its sample count and size (the dataset reads counts from it instead of
scanning the tars), the options, and every failure with its row, video and reason (a missing source, a window outside
the video, an undecodable file). Workers are processes, one thread each.

Why a key frame every 8 frames by default: see the README ("Writing shards"): `bench/bench_shards.py` measures
training clips/s per core against bytes per clip for intra-only and several key-frame intervals.
"""

import argparse
import io
import json
import math
import os
import sys
import tarfile
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
from transformers.utils import logging

from .annotation_cache import file_content_hash
from .annotations import _MISSING, _checked_suffix, _column_spec, _file_chunks, _normalize_columns, resolve_video_path
from .frame_clips import DEFAULT_FRAMES_PER_SEGMENT, DEFAULT_JPEG_QUALITY, clip_frame_members


logger = logging.get_logger(__name__)

MANIFEST_NAME = "manifest.json"
DEFAULT_SAMPLES_PER_SHARD = 1000
DEFAULT_SHORT_SIDE = 256
DEFAULT_GOP = 8
STATS_SUFFIX = ".stats.json"


CLIP_FORMATS = ("mp4", "frames")


@dataclass(frozen=True)
class EncodeOptions:
    """How clips are stored: re-encoded as H.264 (`mp4`) or as JPEG frames of their segments (`frames`)."""

    short_side: int = DEFAULT_SHORT_SIDE
    gop: int = DEFAULT_GOP
    """`mp4`: frames between key frames; 1 makes every frame a key frame (intra-only)."""
    crf: int = 23
    """`mp4`: x264's constant rate factor."""
    preset: str = "veryfast"
    """`mp4`: x264's preset."""
    clip_format: str = "mp4"
    """`mp4` (one H.264 file per clip) or `frames` (JPEG frames per segment, see `viclip_train.data.frame_clips`)."""
    num_segments: int = 8
    """`frames`: the segments of a clip, as many as the frames a training clip samples."""
    frames_per_segment: int = DEFAULT_FRAMES_PER_SEGMENT
    """`frames`: frames stored per segment, among which reading picks one at random."""
    jpeg_quality: int = DEFAULT_JPEG_QUALITY
    """`frames`: JPEG quality (libjpeg-turbo, 4:2:0)."""

    def check(self) -> None:
        """Raises `ValueError` naming the option out of range."""
        problems = [
            f"--{name} must be at least {low}, got {value}"
            for name, value, low in (
                ("short_side", self.short_side, 2),
                ("gop", self.gop, 1),
                ("num_segments", self.num_segments, 1),
                ("frames_per_segment", self.frames_per_segment, 1),
            )
            if value < low
        ]
        problems += [  # tar member names give each two digits (`f<segment><copy>.jpg`)
            f"--{name} must be at most 99, got {value}"
            for name, value in (("num_segments", self.num_segments), ("frames_per_segment", self.frames_per_segment))
            if value > 99
        ]
        if self.clip_format not in CLIP_FORMATS:
            problems.append(f"--clip_format must be one of {CLIP_FORMATS}, got {self.clip_format!r}")
        if not 1 <= self.jpeg_quality <= 100:
            problems.append(f"--jpeg_quality must be in [1, 100], got {self.jpeg_quality}")
        if problems:
            raise ValueError("; ".join(problems) + ".")


def _scaled_size(width: int, height: int, short_side: int) -> tuple[int, int]:
    """`(width, height)` with the short side `short_side` (never enlarged), aspect kept, both even (H.264 4:2:0)."""
    scale = min(1.0, short_side / min(width, height))
    return max(2, int(round(width * scale / 2)) * 2), max(2, int(round(height * scale / 2)) * 2)


def _window_frames(source: Any, window: tuple[float, float] | None) -> Iterator[tuple[Any, Fraction]]:
    """
    The decoded frames of `source` (a path or bytes) shown at `start <= t < end` (`t` from the start of the stream,
    the rule of the training decoders; the whole video without a window), with the stream's frame rate.

    Raises:
        `FileNotFoundError`, `ValueError`: a missing or undecodable file, no video stream, or no frame in the window.
    """
    data = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source
    try:
        container = av.open(data)
    except (av.error.FFmpegError, OSError) as error:
        if isinstance(error, FileNotFoundError):
            raise
        raise ValueError(f"cannot open the video: {error}") from None
    with container:
        if not container.streams.video:
            raise ValueError("no video stream")
        stream = container.streams.video[0]
        stream.thread_count = 1
        time_base, origin = stream.time_base, stream.start_time or 0
        rate = stream.average_rate or stream.guessed_rate or Fraction(25)
        start, end = window if window is not None else (0.0, math.inf)
        if start > 1.0:
            container.seek(origin + int(max(0.0, start - 1.0) / time_base), stream=stream, backward=True)
        found = False
        try:
            for frame in container.decode(stream):
                if frame.pts is None:
                    continue
                seconds = float((frame.pts - origin) * time_base)
                if seconds < start - 1e-6:
                    continue
                if seconds >= end - 1e-6:
                    break
                found = True
                yield frame, rate
        except av.error.FFmpegError as error:
            raise ValueError(f"cannot decode the video: {error}") from None
        if not found:
            where = f"the window {start}-{end} s" if window is not None else "the video"
            raise ValueError(f"no frame in {where} (the window lies outside the video?)")


def cut_clip(source: Any, window: tuple[float, float] | None, options: EncodeOptions) -> bytes:
    """The frames of `source` in `window` ([`_window_frames`]), scaled and re-encoded as an MP4 file in memory."""
    output = io.BytesIO()
    encoded = av.open(output, "w", format="mp4")
    out_stream = None
    try:
        for index, (frame, rate) in enumerate(_window_frames(source, window)):
            if out_stream is None:
                width, height = _scaled_size(frame.width, frame.height, options.short_side)
                out_stream = encoded.add_stream("libx264", rate=rate)
                out_stream.width, out_stream.height, out_stream.pix_fmt = width, height, "yuv420p"
                out_stream.thread_count = 1
                out_stream.options = {
                    "g": str(options.gop),
                    "keyint_min": str(options.gop),
                    "bf": "0",
                    "crf": str(options.crf),
                    "preset": options.preset,
                    "sc_threshold": "0",
                }
            scaled = frame.reformat(width=out_stream.width, height=out_stream.height, format="yuv420p")
            scaled.pts, scaled.time_base = index, Fraction(1, 1) / rate
            for packet in out_stream.encode(scaled):
                encoded.mux(packet)
        for packet in out_stream.encode():
            encoded.mux(packet)
    finally:
        encoded.close()
    return output.getvalue()


def clip_as_frames(source: Any, window: tuple[float, float] | None, options: EncodeOptions) -> dict[str, bytes]:
    """The frames of `source` in `window` ([`_window_frames`]) stored as JPEG frames of `options.num_segments`
    segments, `options.frames_per_segment` each ([`clip_frame_members`]), scaled to `options.short_side`: tar members
    by extension."""
    frames = []
    for frame, _ in _window_frames(source, window):
        width, height = _scaled_size(frame.width, frame.height, options.short_side)
        frames.append(frame.to_ndarray(width=width, height=height, format="rgb24"))
    return clip_frame_members(frames, options.num_segments, options.frames_per_segment, options.jpeg_quality)


def _add_member(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0
    tar.addfile(info, io.BytesIO(data))


def write_shard(job: dict) -> dict:
    """Writes one shard (in a worker process): `job` holds `index`, `rows`, `output_dir`, `video_root`, `options`.
    Returns its record: samples, bytes, failures."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    output_dir = Path(job["output_dir"])
    name = f"{job['index']:05d}.tar"
    temporary = output_dir / f".{name}.{os.getpid()}.partial"
    options = EncodeOptions(**job["options"])
    failures, samples = [], 0
    started = time.perf_counter()
    with tarfile.open(temporary, "w") as tar:
        for row in job["rows"]:
            window = None if row["start"] is None else (row["start"], row["end"])
            try:
                source = str(resolve_video_path(row["video"], job["video_root"]))
                if options.clip_format == "frames":
                    members = clip_as_frames(source, window, options)
                else:
                    members = {"mp4": cut_clip(source, window, options)}
            except (OSError, ValueError) as error:
                reason = " ".join(str(error).split())
                failures.append(
                    {
                        "row": row["row"],
                        "video": row["video"],
                        "window": window,
                        "error": type(error).__name__,
                        "reason": reason,
                    }
                )
                continue
            key = f"{row['row']:09d}"
            metadata = {
                "caption": row["caption"],
                "video": row["video"],
                "start": row["start"],
                "end": row["end"],
                "row": row["row"],
                **row["metadata"],
            }
            for extension, data in members.items():
                _add_member(tar, f"{key}.{extension}", data)
            _add_member(tar, f"{key}.txt", (row["caption"] or "").encode("utf-8"))
            _add_member(tar, f"{key}.json", json.dumps(metadata, ensure_ascii=False).encode("utf-8"))
            samples += 1
    record = {
        "name": name,
        "samples": samples,
        "bytes": temporary.stat().st_size,
        "rows": [job["rows"][0]["row"], job["rows"][-1]["row"] + 1] if job["rows"] else [0, 0],
        "failures": failures,
        "seconds": round(time.perf_counter() - started, 3),
        "written_with": job["written_with"],
    }
    stats = output_dir / (name.removesuffix(".tar") + STATS_SUFFIX)
    stats_temporary = stats.with_name(f".{stats.name}.{os.getpid()}.partial")
    stats_temporary.write_text(json.dumps(record), encoding="utf-8")
    os.replace(stats_temporary, stats)
    os.replace(temporary, output_dir / name)  # last: a shard file exists only once it and its record are complete
    return record


def _finished(output_dir: Path, index: int, rows: list[dict], written_with: dict) -> dict | None:
    """
    The record of shard `index` if an earlier run finished it with the same settings and rows; `None` if it is yet to
    be written.

    Raises:
        `ValueError`: the shard was written from another annotation file (or this one before an edit) or with other
            options, naming what differs: mixing them would duplicate or drop clips.
    """
    name = f"{index:05d}"
    if not (output_dir / f"{name}.tar").is_file():
        return None
    try:
        record = json.loads((output_dir / f"{name}{STATS_SUFFIX}").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # a shard without its record is rewritten
    earlier = record.get("written_with", {})
    differences = [
        f"{key}: {earlier.get(key)!r} then, {value!r} now"
        for key, value in written_with.items()
        if earlier.get(key) != value
    ]
    expected_rows = [rows[0]["row"], rows[-1]["row"] + 1]
    if record.get("rows") != expected_rows:
        differences.append(f"rows: {record.get('rows')} then, {expected_rows} now")
    if differences:
        raise ValueError(
            f"{output_dir / name}.tar was written by an earlier run with other settings ({'; '.join(differences)}): "
            "rerun with the same annotation file and options to finish that run, or write to a new --output_dir "
            "(or pass --overwrite to delete the earlier shards)."
        )
    return record


def _remove_partial_files(output_dir: Path) -> int:
    """Deletes the temporary files of killed runs (`.<name>.<pid>.partial`); returns how many there were."""
    stale = list(output_dir.glob(".*.partial"))
    for path in stale:
        path.unlink(missing_ok=True)
    return len(stale)


def _remove_shards(output_dir: Path) -> None:
    """Deletes the shards, records and manifest of an earlier run (`--overwrite`)."""
    for pattern in ("[0-9][0-9][0-9][0-9][0-9].tar", f"[0-9][0-9][0-9][0-9][0-9]{STATS_SUFFIX}", MANIFEST_NAME):
        for path in output_dir.glob(pattern):
            path.unlink()


def _shard_jobs(annotations: Path, samples_per_shard: int, columns: dict) -> Iterator[tuple[int, list[dict]]]:
    """`(shard index, rows)` in file order; each row normalised (checked) plus its other columns as metadata."""
    spec, pending, row_index = None, [], 0
    shard = 0
    for chunk in _file_chunks(annotations, max(samples_per_shard, 10_000)):
        if not chunk.locations:
            continue
        if spec is None:
            spec = _column_spec(chunk.names, str(annotations), **columns)
        for name in set(chunk.names) | {spec.video}:
            chunk.values.setdefault(name, [_MISSING] * len(chunk.locations))
        normalized = _normalize_columns(chunk.values, chunk.locations, spec)
        used = {spec.caption}  # the caption is stored as "caption"; every other column as it is
        extra = [name for name in chunk.names if name not in used]
        for position in range(len(chunk.locations)):
            metadata = {
                name: chunk.values[name][position] for name in extra if chunk.values[name][position] is not _MISSING
            }
            pending.append(
                {
                    "row": row_index,
                    "video": normalized["video"][position],
                    "caption": normalized["caption"][position],
                    "start": normalized["start"][position],
                    "end": normalized["end"][position],
                    "metadata": metadata,
                }
            )
            row_index += 1
            if len(pending) == samples_per_shard:
                yield shard, pending
                shard, pending = shard + 1, []
    if pending:
        yield shard, pending
    if spec is None:
        raise ValueError(f"{annotations} holds no annotations.")


def write_shards(
    annotations: str | os.PathLike,
    video_root: str | os.PathLike | None,
    output_dir: str | os.PathLike,
    *,
    samples_per_shard: int = DEFAULT_SAMPLES_PER_SHARD,
    options: EncodeOptions = EncodeOptions(),
    num_workers: int | None = None,
    video_column: str = "video",
    caption_column: str = "caption",
    progress: bool = True,
    overwrite: bool = False,
) -> dict:
    """
    Writes the shards of `annotations` into `output_dir` (see the module docstring), resuming an earlier run with the
    same annotation file and options (`overwrite` deletes an earlier run's shards first), and returns the manifest
    (also written to `output_dir/manifest.json`).

    Raises:
        `FileNotFoundError`, `ValueError`: a missing annotation file or a malformed row (as `load_annotations`), a
            bad option, or shards of an earlier run with another annotation file or other options.
    """
    from tqdm.auto import tqdm

    annotations = Path(annotations)
    _checked_suffix(annotations)
    if samples_per_shard < 1:
        raise ValueError(f"--samples_per_shard must be at least 1, got {samples_per_shard}.")
    options.check()
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    if overwrite:
        _remove_shards(output_dir)
    if stale := _remove_partial_files(output_dir):
        logger.info(f"Removed {stale} temporary file(s) of an interrupted run from {output_dir}.")
    workers = num_workers or os.cpu_count() or 1
    columns = {"video_column": video_column, "caption_column": caption_column, "label_column": None}
    # what a finished shard must have been written with to be kept by a rerun
    written_with = {
        "annotation_content": file_content_hash(annotations),
        "samples_per_shard": samples_per_shard,
        "video_column": video_column,
        "caption_column": caption_column,
        **options.__dict__,
    }
    records: dict[int, dict] = {}
    kept = 0
    bar = tqdm(desc="Writing shards", unit=" shard", disable=not progress)

    def account(index: int, record: dict) -> None:
        records[index] = record
        bar.update(1)
        bar.set_postfix(
            samples=sum(r["samples"] for r in records.values()),
            failed=sum(len(r["failures"]) for r in records.values()),
        )

    with ProcessPoolExecutor(max_workers=workers) as pool:
        running = {}
        for index, rows in _shard_jobs(annotations, samples_per_shard, columns):
            finished = _finished(output_dir, index, rows, written_with)
            if finished is not None:
                kept += 1
                account(index, finished)
                continue
            job = {
                "index": index,
                "rows": rows,
                "output_dir": str(output_dir),
                "video_root": None if video_root is None else str(video_root),
                "options": options.__dict__,
                "written_with": written_with,
            }
            running[pool.submit(write_shard, job)] = index
            while len(running) >= 2 * workers:  # a bounded number of shards in flight
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    account(running.pop(future), future.result())
        for future in running:
            account(running[future], future.result())
    bar.close()
    ordered = [records[index] for index in sorted(records)]
    manifest = {
        "format": "webdataset",
        "annotations": str(annotations),
        "video_root": None if video_root is None else str(video_root),
        "options": {
            **options.__dict__,
            "samples_per_shard": samples_per_shard,
            **({"codec": "h264", "b_frames": 0} if options.clip_format == "mp4" else {"codec": "jpeg"}),
        },
        "num_shards": len(ordered),
        "num_samples": sum(record["samples"] for record in ordered),
        "num_failures": sum(len(record["failures"]) for record in ordered),
        "bytes": sum(record["bytes"] for record in ordered),
        "shards_kept_from_earlier_runs": kept,
        "shards": [{key: record[key] for key in ("name", "samples", "bytes", "rows")} for record in ordered],
        "failures": [failure for record in ordered for failure in record["failures"]],
    }
    temporary = output_dir / f".{MANIFEST_NAME}.partial"
    temporary.write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    os.replace(temporary, output_dir / MANIFEST_NAME)
    return manifest


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m viclip_train.data.shard_writer",
        allow_abbrev=False,
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--annotations",
        required=True,
        help="Annotation file (.json, .jsonl, .csv): the InternVid "
        "layout (YoutubeID, Start_timestamp, End_timestamp, Caption, ...) or video/caption columns.",
    )
    parser.add_argument("--video_root", default=None, help="Folder the video paths (or YoutubeIDs) are relative to.")
    parser.add_argument("--output_dir", required=True, help="Folder of the shards, their records and manifest.json.")
    parser.add_argument(
        "--samples_per_shard",
        type=int,
        default=DEFAULT_SAMPLES_PER_SHARD,
        help="Rows per shard (failed rows leave their shard shorter).",
    )
    parser.add_argument(
        "--short_side",
        type=int,
        default=DEFAULT_SHORT_SIDE,
        help="Short side of the re-encoded clips in pixels (never enlarged; aspect kept).",
    )
    parser.add_argument(
        "--gop",
        type=int,
        default=DEFAULT_GOP,
        help="Frames between key frames: 1 is intra-only (fastest random access, largest files).",
    )
    parser.add_argument("--crf", type=int, default=23, help="x264 constant rate factor (quality; lower is better).")
    parser.add_argument("--preset", default="veryfast", help="x264 preset (encoding speed against size).")
    parser.add_argument(
        "--clip_format",
        choices=CLIP_FORMATS,
        default="mp4",
        help="How each clip is stored: mp4 (one H.264 file, the options above) or frames (JPEG frames of its "
        "segments, which training decodes in the DataLoader workers or, with --frame_decoding device, on the GPU).",
    )
    parser.add_argument(
        "--num_segments",
        type=int,
        default=8,
        help="frames: the segments of a clip, as many as the frames training samples per clip (--num_frames).",
    )
    parser.add_argument(
        "--frames_per_segment",
        type=int,
        default=DEFAULT_FRAMES_PER_SEGMENT,
        help="frames: frames stored per segment, spread over it; training picks one at random, evaluation the "
        "middle one (1 stores the reference's middle frame exactly, for evaluation shards).",
    )
    parser.add_argument(
        "--jpeg_quality", type=int, default=DEFAULT_JPEG_QUALITY, help="frames: JPEG quality of the stored frames."
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="Delete the shards of an earlier run in --output_dir first (a rerun otherwise finishes that run, and "
        "refuses if it used another annotation file or other options).",
    )
    parser.add_argument("--num_workers", type=int, default=None, help="Worker processes (default: every core).")
    parser.add_argument("--video_column", default="video", help="Column of the video paths (non-InternVid files).")
    parser.add_argument("--caption_column", default="caption", help="Column of the captions (non-InternVid files).")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    options = EncodeOptions(
        short_side=args.short_side,
        gop=args.gop,
        crf=args.crf,
        preset=args.preset,
        clip_format=args.clip_format,
        num_segments=args.num_segments,
        frames_per_segment=args.frames_per_segment,
        jpeg_quality=args.jpeg_quality,
    )
    manifest = write_shards(
        args.annotations,
        args.video_root,
        args.output_dir,
        samples_per_shard=args.samples_per_shard,
        options=options,
        num_workers=args.num_workers,
        video_column=args.video_column,
        caption_column=args.caption_column,
        overwrite=args.overwrite,
    )
    print(
        f"{manifest['num_samples']} clips in {manifest['num_shards']} shards ({manifest['bytes'] / 2**20:.1f} MiB), "
        f"{manifest['num_failures']} failed (listed in {Path(args.output_dir) / MANIFEST_NAME}); "
        f"{manifest['shards_kept_from_earlier_runs']} shards kept from an earlier run."
    )


if __name__ == "__main__":
    sys.exit(main())
