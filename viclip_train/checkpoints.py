# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""
Checkpoints that are complete or not there at all, and resuming from the newest complete one.

[`ViCLIPTrainer`] writes `checkpoint-N` into a staging folder, `<output_dir>/.saving-checkpoint-N/checkpoint-N`, and
renames it into place only once every process has finished writing: a process killed during a save (or a full disk)
leaves the staging folder, never a partial `checkpoint-N`. [`checkpoint_problems`] still checks the files of every
`checkpoint-N` folder, for folders written by older versions or damaged by hand, and [`resolve_resume_checkpoint`]
picks the newest complete one, naming in a warning each incomplete one it passes over. Incomplete folders are never
loaded and never deleted: they stay where they are, or are moved aside to `.incomplete-...` when their name is needed.
"""

import json
import os
import re
import shutil
import struct
import zipfile
from pathlib import Path

from transformers.utils import logging


logger = logging.get_logger(__name__)

CHECKPOINT_PATTERN = re.compile(r"^checkpoint-(\d+)$")
STAGING_PREFIX = ".saving-"
"""A checkpoint is written to `<output_dir>/.saving-checkpoint-N/checkpoint-N`, then renamed to its place."""
SET_ASIDE_PREFIX = ".incomplete-"
"""Incomplete folders whose name is needed again are renamed to `.incomplete-<name>[-k]`."""

_WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)


def _safetensors_problem(path: Path) -> str | None:
    """Whether a safetensors file is cut short: its header announces where the last tensor ends."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            header_size = struct.unpack("<Q", handle.read(8))[0]
            if header_size > size:
                return f"{path.name} is truncated (its header is cut)"
            header = json.loads(handle.read(header_size))
    except (OSError, struct.error, ValueError):
        return f"{path.name} is not a readable safetensors file"
    ends = [entry["data_offsets"][1] for name, entry in header.items() if name != "__metadata__"]
    expected = 8 + header_size + max(ends, default=0)
    if size < expected:
        return f"{path.name} is truncated ({size} of {expected} bytes)"
    return None


def _zip_problem(path: Path) -> str | None:
    """Whether a `torch.save` file (a zip archive) is cut short: its central directory sits at the end."""
    try:
        with zipfile.ZipFile(path):
            return None
    except (OSError, zipfile.BadZipFile):
        return f"{path.name} is truncated or not a torch file"


def _json_problem(path: Path) -> str | None:
    try:
        json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return f"{path.name} is truncated or not JSON"
    return None


def checkpoint_problems(folder: str | os.PathLike, require_optimizer: bool = True) -> list[str]:
    """
    Why `folder` is not a complete Trainer checkpoint; an empty list when it is.

    Checked: `trainer_state.json` (present, valid JSON), the model weights (a safetensors file whose size matches its
    header, the shards of an index, or a torch file; sharded FSDP / DeepSpeed folders are taken as they are), and,
    with `require_optimizer` (the default; `False` for `--save_only_model` checkpoints), the optimizer, scheduler
    and RNG-state files. The checks read headers only: cheap even for large checkpoints.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return [f"{folder} is not a folder"]
    problems = []
    state = folder / "trainer_state.json"
    if not state.is_file():
        problems.append("trainer_state.json is missing")
    else:
        problems.extend(filter(None, [_json_problem(state)]))
    names = {path.name for path in folder.iterdir()}
    sharded = any(name.startswith(("pytorch_model_fsdp", "global_step")) for name in names)
    weights = [name for name in _WEIGHT_FILES if name in names]
    if not weights and not sharded:
        problems.append("no model weights (model.safetensors)")
    for name in weights:
        path = folder / name
        if name.endswith(".index.json"):
            problem = _json_problem(path)
            if problem is None:
                shards = set(json.loads(path.read_text(encoding="utf-8")).get("weight_map", {}).values())
                missing = sorted(shards - names)
                problem = f"the weight shards {missing} are missing" if missing else None
                for shard in sorted(shard for shard in shards & names if shard.endswith(".safetensors")):
                    problem = problem or _safetensors_problem(folder / shard)
        elif name.endswith(".safetensors"):
            problem = _safetensors_problem(path)
        else:
            problem = _zip_problem(path)
        problems.extend(filter(None, [problem]))
    if require_optimizer and not sharded:
        for name in ("optimizer.pt", "scheduler.pt"):
            if name not in names:
                problems.append(f"{name} is missing")
            else:
                problems.extend(filter(None, [_zip_problem(folder / name)]))
        rng_files = sorted(name for name in names if re.fullmatch(r"rng_state(_\d+)?\.pth", name))
        if not rng_files:
            problems.append("the RNG state (rng_state.pth) is missing")
        problems.extend(filter(None, (_zip_problem(folder / name) for name in rng_files)))
    return problems


def set_aside(folder: str | os.PathLike, why: str) -> Path:
    """Renames an incomplete `folder` to a free `.incomplete-<name>[-k]` beside it, with a warning; returns the new
    path. Nothing is deleted."""
    folder = Path(folder)
    name = folder.name.removeprefix(STAGING_PREFIX)
    target = folder.with_name(SET_ASIDE_PREFIX + name)
    suffix = 2
    while target.exists():
        target = folder.with_name(f"{SET_ASIDE_PREFIX}{name}-{suffix}")
        suffix += 1
    os.replace(folder, target)
    logger.warning(f"{folder} is incomplete ({why}); moved it aside to {target} (never loaded; delete it at will).")
    return target


def publish_checkpoint(staged: str | os.PathLike, final: str | os.PathLike, require_optimizer: bool = True) -> None:
    """
    Moves a fully written checkpoint from its staging folder `staged` (`.saving-checkpoint-N/checkpoint-N`) to
    `final` (`checkpoint-N`) with one rename, and removes the then empty staging folder. A complete folder already at
    `final` (the same step trained again after resuming from an earlier checkpoint) is replaced, as the Trainer
    overwrites it; an incomplete one is moved aside.
    """
    staged, final = Path(staged), Path(final)
    replaced = None
    if final.exists():
        problems = checkpoint_problems(final, require_optimizer)
        if problems:
            set_aside(final, "; ".join(problems))
        else:
            replaced = final.with_name(f"{STAGING_PREFIX}replaced-{final.name}")
            if replaced.exists():
                shutil.rmtree(replaced)
            os.replace(final, replaced)
    os.replace(staged, final)
    staged.parent.rmdir()
    if replaced is not None:
        shutil.rmtree(replaced)
        logger.info(f"Replaced the earlier {final} with the one of this run.")


def interrupted_saves(output_dir: str | os.PathLike) -> list[Path]:
    """The staging folders of saves that never finished (a process killed while saving, a full disk)."""
    output_dir = Path(output_dir)
    if not output_dir.is_dir():
        return []
    return sorted(path for path in output_dir.iterdir() if path.name.startswith(STAGING_PREFIX) and path.is_dir())


def resolve_resume_checkpoint(
    output_dir: str, resume_from_checkpoint: str | bool | None, require_optimizer: bool = True
) -> str | None:
    """
    The checkpoint to resume from: the one given, or else the newest *complete* `checkpoint-N` folder in `output_dir`,
    so that rerunning an interrupted command continues it. Incomplete folders are named in a warning and passed over
    (left in place). `resume_from_checkpoint=False` ("false" on the command line) starts over.

    Raises:
        `FileNotFoundError`: the given checkpoint is not a folder, or `resume_from_checkpoint=True` and there is no
            complete checkpoint.
        `ValueError`: the given checkpoint is incomplete (the message lists what is wrong).
    """
    if isinstance(resume_from_checkpoint, str) and resume_from_checkpoint.lower() in ("false", "no", "none"):
        return None
    if resume_from_checkpoint not in (None, True, "true", "True"):
        if not os.path.isdir(resume_from_checkpoint):
            raise FileNotFoundError(f"--resume_from_checkpoint {resume_from_checkpoint} is not a folder.")
        problems = checkpoint_problems(resume_from_checkpoint, require_optimizer)
        if problems:
            raise ValueError(
                f"--resume_from_checkpoint {resume_from_checkpoint} is incomplete: {'; '.join(problems)}. Pick "
                "another checkpoint, or leave the flag out to resume from the newest complete one."
            )
        return str(resume_from_checkpoint)
    for staging in interrupted_saves(output_dir):
        logger.warning(f"{staging} holds a checkpoint whose save was interrupted: it is not loaded (left in place).")
    candidates = []
    if os.path.isdir(output_dir):
        for name in os.listdir(output_dir):
            match = CHECKPOINT_PATTERN.match(name)
            if match and os.path.isdir(os.path.join(output_dir, name)):
                candidates.append((int(match.group(1)), os.path.join(output_dir, name)))
    chosen = None
    for _, folder in sorted(candidates, reverse=True):
        problems = checkpoint_problems(folder, require_optimizer)
        if not problems:
            chosen = folder
            break
        logger.warning(f"{folder} is an incomplete checkpoint ({'; '.join(problems)}): not loaded (left in place).")
    if chosen is not None:
        logger.warning(f"Resuming from the latest checkpoint in {output_dir} (the newest complete one): {chosen}.")
    elif resume_from_checkpoint in (True, "true", "True"):
        raise FileNotFoundError(
            f"--resume_from_checkpoint asked to resume, but {output_dir} has no complete checkpoint-* folder."
        )
    return chosen


__all__ = [
    "CHECKPOINT_PATTERN",
    "SET_ASIDE_PREFIX",
    "STAGING_PREFIX",
    "checkpoint_problems",
    "interrupted_saves",
    "publish_checkpoint",
    "resolve_resume_checkpoint",
    "set_aside",
]
