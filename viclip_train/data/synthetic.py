# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""
A small synthetic video-text corpus: coloured shapes moving in named directions, as real mp4 files.

Each clip shows one shape of one colour crossing a dark background in one direction, captioned e.g.
`"a red square moving to the left"`; its colour, shape and direction are class columns. Colour and shape can be read
from any frame; the direction only from the order of frames, so a model must use time to tell `"left"` from
`"right"` (the demo-size model of `configs/demo.json` learns colour and shape in minutes on a CPU, not direction, so
the classification demos classify colours). The corpus is deterministic given its seed, is written once (a `manifest.json` written last marks a
complete corpus), and is reused by the tests, the pretraining demo and the classification demo.

Layout under `root`:

    videos/train/00000.mp4 ...      videos/val/00000.mp4 ...
    train.json  train.jsonl  train.csv      val.json  val.jsonl  val.csv      manifest.json

Every annotation file holds the same rows: `video` (path relative to `root`), `caption`, `label` (the direction),
`color`, `shape` and `direction`.
"""

import csv
import itertools
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import av
import numpy as np


COLORS: dict[str, tuple[int, int, int]] = {
    "red": (230, 30, 30),
    "green": (30, 200, 50),
    "blue": (40, 90, 255),
    "yellow": (240, 220, 30),
    "purple": (170, 40, 220),
    "white": (245, 245, 245),
}
SHAPES: tuple[str, ...] = ("square", "circle", "triangle")
# direction -> (unit step in x, unit step in y, caption phrase); image y grows downwards.
DIRECTIONS: dict[str, tuple[int, int, str]] = {
    "left": (-1, 0, "to the left"),
    "right": (1, 0, "to the right"),
    "up": (0, -1, "up"),
    "down": (0, 1, "down"),
}
ANNOTATION_FORMATS: tuple[str, ...] = ("json", "jsonl", "csv")
ANNOTATION_FIELDS: tuple[str, ...] = ("video", "caption", "label", "color", "shape", "direction")
SPLITS: tuple[str, ...] = ("train", "val")
MANIFEST_NAME = "manifest.json"
_FORMAT_VERSION = 1


def caption_for(color: str, shape: str, direction: str) -> str:
    """The caption of a clip, e.g. `caption_for("red", "square", "left") == "a red square moving to the left"`."""
    return f"a {color} {shape} moving {DIRECTIONS[direction][2]}"


def render_clip(
    color: str, shape: str, direction: str, *, num_frames: int, frame_size: int, rng: np.random.Generator
) -> np.ndarray:
    """
    Draws one clip: a shape of `color` crossing about half the frame in `direction`.

    Args:
        color (`str`): a key of [`COLORS`].
        shape (`str`): one of [`SHAPES`].
        direction (`str`): a key of [`DIRECTIONS`].
        num_frames (`int`): number of frames.
        frame_size (`int`): side of the square frames, in pixels.
        rng (`numpy.random.Generator`): draws the size, start, path length and background shade.

    Returns:
        `numpy.ndarray` of shape `[num_frames, frame_size, frame_size, 3]`, `uint8`.
    """
    step_x, step_y, _ = DIRECTIONS[direction]
    radius = frame_size * rng.uniform(0.13, 0.18)
    travel = frame_size * rng.uniform(0.45, 0.55)
    margin = radius + 1
    # Along the motion the path is centred (with some jitter); across it the position is free within the frame.
    along_start = frame_size / 2 - travel / 2 + rng.uniform(-0.05, 0.05) * frame_size
    across = rng.uniform(margin, frame_size - margin)
    background = rng.integers(0, 50, size=3, dtype=np.int64)

    coords = np.arange(frame_size, dtype=np.float64) + 0.5
    yy, xx = np.meshgrid(coords, coords, indexing="ij")
    frames = np.empty((num_frames, frame_size, frame_size, 3), dtype=np.uint8)
    frames[:] = background.astype(np.uint8)
    for t in range(num_frames):
        along = along_start + travel * t / max(num_frames - 1, 1)
        if step_x != 0:
            # moving left runs the same path mirrored
            centre_x = along if step_x > 0 else frame_size - along
            centre_y = across
        else:
            centre_x = across
            centre_y = along if step_y > 0 else frame_size - along
        dx, dy = xx - centre_x, yy - centre_y
        if shape == "square":
            mask = (np.abs(dx) <= radius) & (np.abs(dy) <= radius)
        elif shape == "circle":
            mask = dx**2 + dy**2 <= radius**2
        elif shape == "triangle":  # apex up, base down
            mask = (np.abs(dy) <= radius) & (np.abs(dx) <= (dy + radius) / 2)
        else:
            raise ValueError(f"Unknown shape {shape!r}; choose one of {SHAPES}.")
        frames[t][mask] = COLORS[color]
    return frames


def write_video(path: str | os.PathLike, frames: np.ndarray, fps: int = 8) -> None:
    """
    Writes `frames` (`[T, H, W, 3]` `uint8` RGB, even `H` and `W`) to a lossless H.264 mp4 file with PyAV.

    The file appears atomically: it is encoded under a temporary name and renamed, so an interrupted run never
    leaves a truncated video under `path`.
    """
    path = Path(path)
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"write_video expects uint8 frames [T, H, W, 3]; got {frames.dtype} {frames.shape}.")
    if frames.shape[1] % 2 or frames.shape[2] % 2:
        raise ValueError(f"H.264 (yuv420p) needs an even frame height and width; got {frames.shape[1:3]}.")
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with av.open(str(temporary), mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        # lossless: x264's rate control made lossy files differ from run to run; lossless ones are byte-identical
        stream.options = {"qp": "0", "preset": "veryfast"}
        stream.codec_context.thread_count = 1
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    os.replace(temporary, path)


@dataclass(frozen=True)
class SyntheticCorpus:
    """
    A generated corpus: where it lives and how it was made.

    Attributes:
        root (`Path`): the folder; every `video` path in the annotations is relative to it (use it as `video_root`).
        num_train (`int`), num_val (`int`): clips per split.
        num_frames (`int`), frame_size (`int`), fps (`int`), seed (`int`): the generation parameters.
    """

    root: Path
    num_train: int
    num_val: int
    num_frames: int
    frame_size: int
    fps: int
    seed: int

    def annotation_file(self, split: str = "train", file_format: str = "json") -> Path:
        """The annotation file of `split` (`"train"`, `"val"`) in `file_format` (`"json"`, `"jsonl"`, `"csv"`)."""
        if split not in SPLITS:
            raise ValueError(f"Unknown split {split!r}; choose one of {SPLITS}.")
        if file_format not in ANNOTATION_FORMATS:
            raise ValueError(f"Unknown annotation format {file_format!r}; choose one of {ANNOTATION_FORMATS}.")
        return self.root / f"{split}.{file_format}"

    @staticmethod
    def class_names(label_column: str = "label") -> list[str]:
        """
        The classes of an annotation column, in a fixed order: `"label"` and `"direction"` (the directions),
        `"color"` or `"shape"`.
        """
        classes = {
            "label": list(DIRECTIONS),
            "direction": list(DIRECTIONS),
            "color": list(COLORS),
            "shape": list(SHAPES),
        }
        if label_column not in classes:
            raise ValueError(
                f"The synthetic corpus has no class column {label_column!r}; its class columns are {sorted(classes)}."
            )
        return classes[label_column]


def _parameters(corpus: SyntheticCorpus) -> dict:
    parameters = asdict(corpus)
    del parameters["root"]
    return {"format_version": _FORMAT_VERSION, **parameters}


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def _split_rows(corpus: SyntheticCorpus, split: str) -> list[dict]:
    """Draws and writes the clips of one split; returns its annotation rows."""
    split_index = SPLITS.index(split)
    count = corpus.num_train if split == "train" else corpus.num_val
    combinations = list(itertools.product(COLORS, SHAPES, DIRECTIONS))
    # Every combination appears equally often (up to one), in a seeded order.
    order = np.random.default_rng([corpus.seed, split_index]).permutation(np.arange(count) % len(combinations))
    video_dir = corpus.root / "videos" / split
    video_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for clip_index, combination_index in enumerate(order):
        color, shape, direction = combinations[combination_index]
        rng = np.random.default_rng([corpus.seed, split_index, clip_index])
        frames = render_clip(
            color, shape, direction, num_frames=corpus.num_frames, frame_size=corpus.frame_size, rng=rng
        )
        relative_path = f"videos/{split}/{clip_index:05d}.mp4"
        write_video(corpus.root / relative_path, frames, fps=corpus.fps)
        rows.append(
            {
                "video": relative_path,
                "caption": caption_for(color, shape, direction),
                "label": direction,
                "color": color,
                "shape": shape,
                "direction": direction,
            }
        )
    return rows


def _write_annotations(corpus: SyntheticCorpus, split: str, rows: list[dict]) -> None:
    _write_atomically(corpus.annotation_file(split, "json"), json.dumps(rows, indent=1) + "\n")
    _write_atomically(corpus.annotation_file(split, "jsonl"), "".join(json.dumps(row) + "\n" for row in rows))
    csv_path = corpus.annotation_file(split, "csv")
    temporary = csv_path.with_name(f".{csv_path.name}.{os.getpid()}.tmp")
    with open(temporary, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=ANNOTATION_FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(temporary, csv_path)


def make_synthetic_corpus(
    root: str | os.PathLike,
    *,
    num_train: int = 576,
    num_val: int = 72,
    num_frames: int = 16,
    frame_size: int = 64,
    fps: int = 8,
    seed: int = 0,
) -> SyntheticCorpus:
    """
    Generates the synthetic corpus under `root`, or reuses the complete one already there.

    With the defaults, 6 colours x 3 shapes x 4 directions = 72 distinct captions; the training split shows each
    combination 8 times and the validation split once, with fresh positions, sizes, speeds and backgrounds, so
    text-to-video chance level on the validation split is 1/72. Generating the defaults takes a few seconds.

    Args:
        root (`str` or `os.PathLike`): the folder to fill (created if needed).
        num_train (`int`, defaults to 576): clips in the training split.
        num_val (`int`, defaults to 72): clips in the held-out validation split.
        num_frames (`int`, defaults to 16): frames per clip.
        frame_size (`int`, defaults to 64): side of the square frames, in pixels (even).
        fps (`int`, defaults to 8): frame rate written in the files.
        seed (`int`, defaults to 0): the corpus is a pure function of the parameters.

    Returns:
        [`SyntheticCorpus`]: paths and parameters of the corpus.

    Raises:
        `ValueError`: if `root` holds a complete corpus made with other parameters (delete the folder or pick another).

    Two processes may call this at once (all ranks of a `torchrun` launch): every file is written atomically and both
    write the same bytes. Calling it under `TrainingArguments.main_process_first()` avoids the duplicated work.
    """
    if num_train < 1 or num_val < 1 or num_frames < 1:
        raise ValueError(
            f"num_train ({num_train}), num_val ({num_val}) and num_frames ({num_frames}) must all be positive."
        )
    if frame_size < 16 or frame_size % 2:
        raise ValueError(f"frame_size must be an even number of pixels, at least 16; got {frame_size}.")
    corpus = SyntheticCorpus(
        root=Path(root),
        num_train=num_train,
        num_val=num_val,
        num_frames=num_frames,
        frame_size=frame_size,
        fps=fps,
        seed=seed,
    )
    manifest_path = corpus.root / MANIFEST_NAME
    if manifest_path.is_file():
        found = json.loads(manifest_path.read_text(encoding="utf-8"))
        if found == _parameters(corpus):
            return corpus
        raise ValueError(
            f"{corpus.root} already holds a synthetic corpus made with other parameters ({found}); delete that folder "
            f"or choose another one to generate {_parameters(corpus)}."
        )
    corpus.root.mkdir(parents=True, exist_ok=True)
    for split in SPLITS:
        _write_annotations(corpus, split, _split_rows(corpus, split))
    _write_atomically(manifest_path, json.dumps(_parameters(corpus), indent=1) + "\n")
    return corpus


def write_corpus_shards(
    corpus: SyntheticCorpus, *, samples_per_shard: int = 64, num_workers: int = 1
) -> dict[str, Path]:
    """
    Writes each split of `corpus` as WebDataset tar shards with the shard writer, under `<root>/shards/<split>/`, once
    (a split whose `manifest.json` exists is kept): the input of the shard demo (`configs/demo_shards.json`). Clips
    keep their size (the writer never enlarges) and are re-encoded as the writer does for real data.

    Returns:
        `dict[str, Path]`: the shard folder of each split.
    """
    from .shard_writer import MANIFEST_NAME as SHARD_MANIFEST_NAME
    from .shard_writer import write_shards

    folders = {}
    for split in SPLITS:
        folder = corpus.root / "shards" / split
        if not (folder / SHARD_MANIFEST_NAME).is_file():
            write_shards(
                corpus.annotation_file(split),
                corpus.root,
                folder,
                samples_per_shard=samples_per_shard,
                num_workers=num_workers,
                progress=False,
            )
        folders[split] = folder
    return folders


__all__ = [
    "ANNOTATION_FORMATS",
    "COLORS",
    "DIRECTIONS",
    "SHAPES",
    "SyntheticCorpus",
    "caption_for",
    "make_synthetic_corpus",
    "render_clip",
    "write_corpus_shards",
    "write_video",
]
