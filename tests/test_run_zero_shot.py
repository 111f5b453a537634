# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""run_zero_shot.py: zero-shot classification of a ViCLIP dual encoder from class-name prompts, on a tiny synthetic
corpus. The demo (configs/demo_zero_shot.json) runs in test_run_classification.py, beside the fine-tuning demo."""

import csv
import json
import sys
from pathlib import Path

import pytest
import torch

import run_zero_shot
import viclip_train.eval.classification
from tests.processing_helpers import tiny_processor
from viclip import ViCLIPModel, ZeroShotVideoClassificationPipeline
from viclip_train.data.synthetic import make_synthetic_corpus
from viclip_train.eval.classification import PREDICTIONS_FILE, zero_shot_scorer


REPO_ROOT = Path(__file__).resolve().parents[1]
COMMON_ARGS = [
    "--report_to", "none", "--use_cpu", "true", "--dataloader_num_workers", "0", "--disable_tqdm", "true",
    "--per_device_eval_batch_size", "3", "--seed", "0",
]  # fmt: skip


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return make_synthetic_corpus(
        tmp_path_factory.mktemp("corpus"), num_train=4, num_val=6, num_frames=8, frame_size=32, seed=0
    )


def run_script(monkeypatch, *args: str) -> None:
    """Runs `run_zero_shot.main()` in this process with `args` as its command line."""
    monkeypatch.setattr(sys, "argv", ["run_zero_shot.py", *args, *COMMON_ARGS])
    run_zero_shot.main()


def validation_args(corpus) -> list[str]:
    return ["--video_root", str(corpus.root), "--validation_file", str(corpus.annotation_file("val"))]


def test_zero_shot_reports_top1_top5_and_their_mean(monkeypatch, corpus, tiny_viclip_folder, tmp_path):
    run_script(
        monkeypatch,
        "--model_name_or_path", str(tiny_viclip_folder), *validation_args(corpus), "--output_dir", str(tmp_path),
    )  # fmt: skip
    results = json.loads((tmp_path / "eval_results.json").read_text())
    assert results["eval_zero_shot_top5"] == 100.0  # 4 classes
    assert results["eval_zero_shot_avg"] == pytest.approx((results["eval_zero_shot_top1"] + 100.0) / 2)
    assert results["eval_zero_shot_samples"] == 6


def test_zero_shot_embeds_the_labels_once_for_the_whole_set(monkeypatch, corpus, tiny_viclip_folder, tmp_path):
    calls = []
    original = ViCLIPModel.get_text_features
    monkeypatch.setattr(
        ViCLIPModel,
        "get_text_features",
        lambda self, **kw: calls.append(kw["input_ids"].shape[0]) or original(self, **kw),
    )
    run_script(
        monkeypatch,
        "--model_name_or_path", str(tiny_viclip_folder), *validation_args(corpus), "--output_dir", str(tmp_path),
        "--zero_shot_templates", "a shape moving {}", "{}",
    )  # fmt: skip
    assert calls == [4 * 2]  # one text batch: 4 classes x 2 templates, for the 6 videos in 2 batches


def test_zero_shot_scores_rank_classes_as_the_zero_shot_pipeline(corpus, tiny_viclip_folder):
    model = ViCLIPModel.from_pretrained(tiny_viclip_folder).eval()
    processor = tiny_processor()
    labels, templates = ["to the left", "up", "down"], ["a shape moving {}", "{}"]
    score = zero_shot_scorer(model, processor, labels, templates)
    video = str(corpus.root / "videos/val/00003.mp4")
    with torch.no_grad():
        logits = score(processor(videos=video)["pixel_values"])[0]
    expected = ZeroShotVideoClassificationPipeline(model=model, processor=processor)(
        video, candidate_labels=labels, hypothesis_template=templates
    )
    probabilities = dict(zip(labels, logits.softmax(-1).tolist(), strict=True))
    assert {entry["label"]: entry["score"] for entry in expected} == pytest.approx(probabilities, abs=1e-5)


def test_zero_shot_refuses_to_train(monkeypatch, tiny_viclip_folder, tmp_path):
    with pytest.raises(ValueError, match="Zero-shot evaluation trains nothing"):
        run_script(
            monkeypatch, "--model_name_or_path", str(tiny_viclip_folder), "--do_train", "--output_dir", str(tmp_path)
        )


def test_zero_shot_needs_a_dual_encoder(monkeypatch, corpus, tiny_viclip_folder, tmp_path):
    config = json.loads((tiny_viclip_folder / "config.json").read_text())
    classifier = tmp_path / "classifier"
    classifier.mkdir()
    (classifier / "config.json").write_text(json.dumps({**config, "architectures": ["ViCLIPForVideoClassification"]}))
    with pytest.raises(ValueError, match="needs a ViCLIP dual encoder"):
        run_script(
            monkeypatch,
            "--model_name_or_path",
            str(classifier),
            *validation_args(corpus),
            "--output_dir",
            str(tmp_path),
        )


def test_missing_local_model_folder_points_to_the_pretraining_demo(monkeypatch, tmp_path):
    with pytest.raises(FileNotFoundError, match="python run_pretrain.py configs/demo.json"):
        run_script(monkeypatch, "--model_name_or_path", "./outputs/nowhere", "--output_dir", str(tmp_path))


def test_demo_config_parses(monkeypatch, tmp_path):
    # The demo starts from the pretraining demo's output folder, which a clean checkout does not have yet.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "outputs" / "demo-pretrain").mkdir(parents=True)
    monkeypatch.setattr(sys, "argv", ["run_zero_shot.py", str(REPO_ROOT / "configs" / "demo_zero_shot.json")])
    zero_shot_args, data_args, eval_args, training_args = run_zero_shot.parse_arguments()
    run_zero_shot.check_arguments(zero_shot_args, training_args)
    assert data_args.synthetic_corpus_dir and data_args.label_column == "color"
    assert len(zero_shot_args.zero_shot_templates) == 12  # every shape and direction, the label left to the model


# Variant spellings of Kinetics-400 classes, as users' CSVs write them, and the official name each one is.
KINETICS_VARIANTS = {
    "air_drumming": "air drumming",
    '"Abseiling"': "abseiling",
    "passing_American_football_(in_game)": "passing American football (in game)",
    "massaging-persons-head": "massaging person's head",
}


def kinetics_style_csv(corpus, path: Path, labels: list[str]) -> Path:
    """A `video,label` CSV giving the corpus's validation clips the Kinetics labels `labels`, in turn."""
    rows = json.loads(corpus.annotation_file("val").read_text())
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["video", "label"])
        for index, row in enumerate(rows):
            writer.writerow([row["video"], labels[index % len(labels)]])
    return path


def test_label_set_matches_variant_spellings_to_the_official_classes(
    monkeypatch, corpus, tiny_viclip_folder, tmp_path
):
    embedded = {}
    original = viclip_train.eval.classification.embed_label_prompts

    def recording(model, processor, labels, templates, **kwargs):
        embedded.update(labels=labels, templates=templates)
        return original(model, processor, labels, templates, **kwargs)

    monkeypatch.setattr(viclip_train.eval.classification, "embed_label_prompts", recording)
    annotations = kinetics_style_csv(corpus, tmp_path / "k400_val.csv", list(KINETICS_VARIANTS))
    run_script(
        monkeypatch,
        "--model_name_or_path", str(tiny_viclip_folder), "--label_set", "Kinetics-400",
        "--validation_file", str(annotations), "--video_root", str(corpus.root), "--output_dir", str(tmp_path),
        "--save_predictions", "true", "--zero_shot_templates", "A video of {}.",
    )  # fmt: skip
    results = json.loads((tmp_path / "eval_results.json").read_text())
    assert results["eval_zero_shot_samples"] == 6
    predictions = [json.loads(line) for line in (tmp_path / PREDICTIONS_FILE).read_text().splitlines()]
    expected = [KINETICS_VARIANTS[label] for label in list(KINETICS_VARIANTS) * 2][:6]
    assert [prediction["label"] for prediction in predictions] == expected
    assert all(len(prediction["top5"]) == 5 for prediction in predictions)
    # the 400 classes in the official order; names and templates normalised as the reference writes its prompts
    assert len(embedded["labels"]) == 400 and embedded["labels"][:2] == ["abseiling", "air drumming"]
    assert "passing american football in game" in embedded["labels"] and "massaging persons head" in embedded["labels"]
    assert embedded["templates"] == ["a video of {}"]


def test_label_set_refuses_a_label_outside_the_set_naming_it_and_the_closest_class(
    monkeypatch, corpus, tiny_viclip_folder, tmp_path
):
    annotations = kinetics_style_csv(corpus, tmp_path / "k400_val.csv", ["air drumming", "flying a kite"])
    with pytest.raises(ValueError, match=r"k400_val.csv has 1 label.*'flying a kite' \(closest: 'flying kite'\)"):
        run_script(
            monkeypatch,
            "--model_name_or_path", str(tiny_viclip_folder), "--label_set", "kinetics400",
            "--validation_file", str(annotations), "--video_root", str(corpus.root), "--output_dir", str(tmp_path),
        )  # fmt: skip


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--label_set", "ucf101"], r"Unknown label set 'ucf101'.*kinetics400"),
        (["--label_set", "kinetics400", "--label_names_file", "CLASSES"], r"--label_set and --label_names_file"),
    ],
)
def test_bad_label_set_flags_are_refused_as_the_flags_are_parsed(
    monkeypatch, tiny_viclip_folder, tmp_path, flags, message
):
    classes = tmp_path / "classes.txt"
    classes.write_text("left\nright\n")
    flags = [str(classes) if flag == "CLASSES" else flag for flag in flags]
    command = ["--model_name_or_path", str(tiny_viclip_folder), "--output_dir", str(tmp_path), *flags]
    monkeypatch.setattr(sys, "argv", ["run_zero_shot.py", *command, *COMMON_ARGS])
    with pytest.raises(ValueError, match=message):
        run_zero_shot.parse_arguments()
