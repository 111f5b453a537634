# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""The folders the project writes, built once per test session from tiny inputs: the converter's output (from the
tiny reference checkpoint), a `run_pretrain.py` output that continues from it, and a `run_classification.py` output
fine-tuned from that, plus a short video file. The pipeline, model-card and README tests run on them."""

import functools
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from .conftest import FIXTURES
from .processing_helpers import write_index_video


TINY_CHECKPOINT = FIXTURES / "tiny_original.pth"
TINY_SIZES = json.loads((FIXTURES / "tiny_config.json").read_text())
# Licence the fine-tuning run chooses with --card_license (the other two folders inherit or declare theirs).
CLASSIFIER_LICENSE = "apache-2.0"
COMMON_RUN_ARGS = [
    "--report_to", "none", "--use_cpu", "true", "--save_strategy", "no", "--dataloader_num_workers", "0",
    "--disable_tqdm", "true", "--per_device_train_batch_size", "4", "--per_device_eval_batch_size", "4",
    "--max_steps", "1", "--seed", "0",
]  # fmt: skip


@dataclass(frozen=True)
class ProjectFolders:
    converted: Path  # the converter's output: a ViCLIPModel
    pretrained: Path  # run_pretrain.py output continued from `converted`: a ViCLIPModel
    classifier: Path  # run_classification.py output fine-tuned from `pretrained`: a ViCLIPForVideoClassification
    video: Path  # a 12-frame 32x32 H.264 file
    class_names: tuple[str, ...]

    def dual_encoders(self) -> dict[str, Path]:
        return {"converter": self.converted, "run_pretrain.py": self.pretrained}

    def all(self) -> dict[str, Path]:
        return {**self.dual_encoders(), "run_classification.py": self.classifier}


def _run_main(module_name: str, args: list[str]) -> None:
    """Runs a script's `main()` in this process with `args` as its command line."""
    module = __import__(module_name)
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(sys, "argv", [f"{module_name}.py", *args, *COMMON_RUN_ARGS])
        module.main()


@functools.cache
def _build(root: Path) -> ProjectFolders:
    from viclip_train.convert.convert_viclip_original_to_hf import convert_checkpoint
    from viclip_train.data.synthetic import DIRECTIONS, make_synthetic_corpus

    converted = root / "converted"
    convert_checkpoint(
        TINY_CHECKPOINT, converted, vision_heads=TINY_SIZES["vision_heads"], text_heads=TINY_SIZES["text_heads"]
    )
    corpus = make_synthetic_corpus(root / "corpus", num_train=4, num_val=4, num_frames=8, frame_size=32, seed=0)
    data = ["--video_root", str(corpus.root), "--train_file", str(corpus.annotation_file("train"))]
    data += ["--validation_file", str(corpus.annotation_file("val"))]
    pretrained = root / "pretrained"
    _run_main(
        "run_pretrain",
        ["--model_name_or_path", str(converted), *data, "--output_dir", str(pretrained), "--do_train", "--do_eval"],
    )
    classifier = root / "classifier"
    _run_main(
        "run_classification",
        [
            "--model_name_or_path", str(pretrained), *data, "--output_dir", str(classifier), "--do_train",
            "--do_eval", "--card_license", CLASSIFIER_LICENSE,
        ],
    )  # fmt: skip
    video = Path(write_index_video(str(root / "clip.mp4"), num_frames=12))
    return ProjectFolders(converted, pretrained, classifier, video, tuple(sorted(DIRECTIONS)))


def project_folders(tmp_path_factory: pytest.TempPathFactory) -> ProjectFolders:
    """The session's project folders (built on first use)."""
    return _build(tmp_path_factory.getbasetemp() / "project-folders")
