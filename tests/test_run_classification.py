# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""run_classification.py: fine-tuning, multi-view evaluation, the top-k metric module, the Hub-ready output folder, and
the checks on bad input. Tiny models on a tiny synthetic corpus; the full demo is slow. Zero-shot evaluation
(run_zero_shot.py) is tested in test_run_zero_shot.py."""

import dataclasses
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import datasets
import pytest
import torch
from torchvision.transforms import InterpolationMode
from transformers import TrainingArguments, pipeline

import run_classification
from run_classification import DataArguments, EvaluationArguments, ModelArguments
from tests.conftest import tiny_config_kwargs
from tests.processing_helpers import frame_indices_of, tiny_processor, write_index_video
from viclip import ViCLIPConfig, ViCLIPForVideoClassification, ViCLIPModel
from viclip_train.data.annotations import load_annotations
from viclip_train.data.collator import VideoDataCollator
from viclip_train.data.evaluation_views import EvaluationVideoDataset, spatial_crops, temporal_view_frames
from viclip_train.data.sources import AnnotationSplit, load_class_folder
from viclip_train.data.synthetic import DIRECTIONS, make_synthetic_corpus
from viclip_train.eval.classification import (
    MAX_CLASSES_FROM_INTEGER_LABELS,
    load_top_k_metric,
    predict,
    resolve_class_names,
    warn_classes_without_examples,
)
from viclip_train.trainer import ViCLIPTrainer


REPO_ROOT = Path(__file__).resolve().parents[1]
COMMON_ARGS = [
    "--report_to", "none", "--use_cpu", "true", "--save_strategy", "no", "--dataloader_num_workers", "0",
    "--disable_tqdm", "true", "--per_device_train_batch_size", "4", "--per_device_eval_batch_size", "3",
    "--seed", "0",
]  # fmt: skip


def corpus_args(corpus, splits=("train", "val")) -> list[str]:
    """The tiny corpus as annotation files (`--synthetic_corpus_dir` would generate the full-size corpus)."""
    args = ["--video_root", str(corpus.root)]
    if "train" in splits:
        args += ["--train_file", str(corpus.annotation_file("train"))]
    if "val" in splits:
        args += ["--validation_file", str(corpus.annotation_file("val"))]
    return args


def run_script(monkeypatch, *args: str) -> None:
    """Runs `run_classification.main()` in this process with `args` as its command line."""
    monkeypatch.setattr(sys, "argv", ["run_classification.py", *args, *COMMON_ARGS])
    run_classification.main()


def read_json(path: Path) -> dict:
    return json.loads(Path(path).read_text())


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return make_synthetic_corpus(
        tmp_path_factory.mktemp("corpus"), num_train=12, num_val=6, num_frames=8, frame_size=32, seed=0
    )


@pytest.fixture(scope="module")
def finetuned(corpus, tiny_viclip_folder, tmp_path_factory):
    """One short fine-tuning run on the tiny corpus (with predictions), shared by the tests of its output."""
    output_dir = tmp_path_factory.mktemp("finetuned")
    with pytest.MonkeyPatch.context() as monkeypatch:
        run_script(
            monkeypatch,
            "--model_name_or_path", str(tiny_viclip_folder), *corpus_args(corpus), "--output_dir", str(output_dir),
            "--do_train", "--do_eval", "--max_steps", "2",
            "--horizontal_flip", "false", "--save_predictions",
        )  # fmt: skip
    return output_dir


def write_annotations(path: Path, corpus, split: str, relabel: dict | None = None) -> Path:
    rows = json.loads(corpus.annotation_file(split).read_text())
    for row in rows:
        row["label"] = (relabel or {}).get(row["label"], row["label"])
    path.write_text(json.dumps(rows))
    return path


# ------------------------------------------------------------------------------------------------------------------
# The top-k metric module
# ------------------------------------------------------------------------------------------------------------------


def test_top_k_metric_loads_offline_from_its_folder_and_reports_percent():
    metric = load_top_k_metric()
    scores = [[0.1, 0.7, 0.2, 0.0, 0.0, 0.0], [0.5, 0.3, 0.2, 0.0, 0.0, 0.0], [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]]
    assert metric.compute(predictions=scores, references=[1, 2, 0]) == {
        "top1": pytest.approx(100 / 3),
        "top5": pytest.approx(200 / 3),
    }


def test_top_k_metric_counts_ties_against_the_model():
    metric = load_top_k_metric()
    assert metric.compute(predictions=[[1.0] * 6], references=[3], k=[1, 5, 6]) == {
        "top1": 0.0,
        "top5": 0.0,
        "top6": 100.0,
    }


def test_top_k_metric_rejects_a_class_id_outside_the_scores():
    with pytest.raises(ValueError, match=r"class ids in \[0, 2\)"):
        load_top_k_metric().compute(predictions=[[0.1, 0.9]], references=[2])


# ------------------------------------------------------------------------------------------------------------------
# Fine-tuning output
# ------------------------------------------------------------------------------------------------------------------


def test_fine_tuning_writes_top1_and_top5_in_percent(finetuned):
    results = read_json(finetuned / "eval_results.json")
    assert 0.0 <= results["eval_top1"] <= results["eval_top5"] <= 100.0
    assert results["eval_samples"] == 6 and results["eval_skipped_videos"] == 0


def test_fine_tuning_can_start_from_random_weights_of_a_preset(monkeypatch, corpus, tmp_path):
    overrides = json.dumps(tiny_config_kwargs())
    run_script(
        monkeypatch,
        "--config_name", "viclip-b16", "--config_overrides", overrides, *corpus_args(corpus, ["train"]),
        "--output_dir", str(tmp_path), "--do_train", "--max_steps", "1",
    )  # fmt: skip
    config = read_json(tmp_path / "config.json")
    assert config["vision_config"]["hidden_size"] == 32 and len(config["id2label"]) == 4


def test_card_states_the_epochs_trained_when_max_steps_stops_the_run(finetuned):
    epoch = read_json(finetuned / "trainer_state.json")["epoch"]  # 2 steps of 4 of 12 clips
    assert epoch == pytest.approx(2 / 3, abs=0.01)
    training = (finetuned / "README.md").read_text().split("## Training", 1)[1]
    assert f"{round(epoch, 2):g} epoch(s) (stopped by `--max_steps 2`)" in training
    assert "3 epoch(s)" not in training  # --num_train_epochs, which the run did not reach


def test_total_flos_count_video_tokens_not_pixels_and_match_the_pretraining_estimate(finetuned):
    classifier = ViCLIPForVideoClassification.from_pretrained(finetuned)
    dual_encoder = ViCLIPModel(ViCLIPConfig(**tiny_config_kwargs()))
    trainer = ViCLIPTrainer.__new__(ViCLIPTrainer)  # floating_point_ops alone, without building a run
    trainer.accelerator = type("Accelerator", (), {"unwrap_model": staticmethod(lambda model: model)})()
    videos, captions = torch.zeros(4, 4, 3, 32, 32), torch.ones(4, 32, dtype=torch.long)
    tokens = 4 * (4 * (32 // 16) ** 2 + 1)  # 4 clips of 4 frames of 2x2 patches, plus their class tokens
    vision_parameters = classifier.vision_model.num_parameters(exclude_embeddings=True)
    trainer.model = classifier
    assert (
        trainer.floating_point_ops({"pixel_values": videos, "labels": torch.zeros(4)})
        == 6 * tokens * vision_parameters
    )
    trainer.model = dual_encoder
    text_parameters = dual_encoder.text_model.num_parameters(exclude_embeddings=True)
    both = trainer.floating_point_ops({"pixel_values": videos, "input_ids": captions})
    assert both == 6 * tokens * vision_parameters + 6 * captions.numel() * text_parameters
    # the run's own count: 2 steps of such batches (transformers' default counted every pixel, 1,800x more)
    total_flos = read_json(finetuned / "trainer_state.json")["total_flos"]
    assert total_flos == pytest.approx(2 * 6 * tokens * vision_parameters, rel=0.01)


def test_saved_config_holds_the_label_maps(finetuned):
    config = read_json(finetuned / "config.json")
    assert sorted(config["id2label"].values()) == sorted(DIRECTIONS)
    assert {name: str(index) for name, index in config["label2id"].items()} == {
        name: index for index, name in config["id2label"].items()
    }
    assert config["architectures"] == ["ViCLIPForVideoClassification"]


def test_output_folder_runs_in_the_video_classification_pipeline(finetuned, corpus):
    classify = pipeline("video-classification", model=str(finetuned))
    result = classify(str(corpus.root / "videos/val/00000.mp4"), top_k=4)
    assert sorted(entry["label"] for entry in result) == sorted(DIRECTIONS)


def test_output_folder_ships_remote_code_and_processor(finetuned):
    names = {path.name for path in finetuned.iterdir()}
    assert {"model.safetensors", "processor_config.json", "modeling_viclip.py", "video_processing_viclip.py"} <= names
    assert read_json(finetuned / "config.json")["auto_map"]["AutoModelForVideoClassification"].endswith(
        "ViCLIPForVideoClassification"
    )


def test_predictions_file_has_one_line_per_evaluated_video(finetuned):
    lines = [json.loads(line) for line in (finetuned / "eval_predictions.jsonl").read_text().splitlines()]
    assert len(lines) == 6
    assert all(line["prediction"] == line["top5"][0] and line["label"] in DIRECTIONS for line in lines)
    assert all(sum(line["top5_scores"]) == pytest.approx(1.0, abs=1e-4) for line in lines)  # 4 classes: all of them


# ------------------------------------------------------------------------------------------------------------------
# Bad input
# ------------------------------------------------------------------------------------------------------------------


def test_evaluation_label_unseen_in_training_is_an_error(monkeypatch, corpus, tiny_viclip_folder, tmp_path):
    train = write_annotations(tmp_path / "train.json", corpus, "train")
    validation = write_annotations(tmp_path / "val.json", corpus, "val", relabel={"left": "sideways"})
    with pytest.raises(ValueError, match=r"val\.json.*\['sideways'\] outside the 4 classes"):
        run_script(
            monkeypatch,
            "--model_name_or_path", str(tiny_viclip_folder), "--train_file", str(train),
            "--validation_file", str(validation), "--video_root", str(corpus.root),
            "--output_dir", str(tmp_path / "out"), "--do_train", "--do_eval", "--max_steps", "1",
        )  # fmt: skip


def test_corrupt_evaluation_videos_are_skipped_and_counted(monkeypatch, corpus, finetuned, tmp_path):
    rows = json.loads(corpus.annotation_file("val").read_text())
    (tmp_path / "broken.mp4").write_bytes(b"this is not a video")
    rows[1]["video"] = str(tmp_path / "broken.mp4")
    validation = tmp_path / "val.json"
    validation.write_text(json.dumps(rows))
    run_script(
        monkeypatch,
        "--model_name_or_path", str(finetuned), "--validation_file", str(validation),
        "--video_root", str(corpus.root), "--output_dir", str(tmp_path / "out"), "--do_eval",
    )  # fmt: skip
    results = read_json(tmp_path / "out" / "eval_results.json")
    assert results["eval_skipped_videos"] == 1 and results["eval_samples"] == 5


def test_class_without_training_example_is_warned_about(corpus, tmp_path, caplog):
    for name in ("left", "right"):
        (tmp_path / name).mkdir()
    (tmp_path / "left" / "a.mp4").write_bytes((corpus.root / "videos/train/00000.mp4").read_bytes())
    split = load_class_folder(str(tmp_path))
    with caplog.at_level(logging.WARNING, logger="viclip_train.eval.classification"):
        missing = warn_classes_without_examples(split, resolve_class_names(split, None))
    assert missing == ["right"] and "no training example" in caplog.text and "right" in caplog.text


# ------------------------------------------------------------------------------------------------------------------
# Data sources and classes
# ------------------------------------------------------------------------------------------------------------------


def test_class_folders_give_the_videos_their_folder_name_as_label(corpus, tmp_path):
    for name, clip in (("up", "00000"), ("down", "00001"), ("down", "00002")):
        (tmp_path / name).mkdir(exist_ok=True)
        (tmp_path / name / f"{clip}.mp4").write_bytes((corpus.root / f"videos/train/{clip}.mp4").read_bytes())
    split = load_class_folder(str(tmp_path))
    assert split.class_names == ["down", "up"] and split.video_root == str(tmp_path)
    assert sorted(zip(split.annotations["video"], split.annotations["label"], strict=True)) == [
        ("down/00001.mp4", "down"), ("down/00002.mp4", "down"), ("up/00000.mp4", "up"),
    ]  # fmt: skip


def test_integer_labels_keep_their_ids_and_a_label_file_names_them(tmp_path):
    rows = [{"video": "a.mp4", "label": 2}, {"video": "b.mp4", "label": 0}]
    (tmp_path / "train.json").write_text(json.dumps(rows))
    split = AnnotationSplit(
        load_annotations(tmp_path / "train.json", caption_column=None, label_column="label"), None, "train.json"
    )
    assert resolve_class_names(split, None) == ["0", "1", "2"]
    (tmp_path / "names.txt").write_text("walking\nrunning\n\njumping\n")
    assert resolve_class_names(split, str(tmp_path / "names.txt")) == ["walking", "running", "jumping"]


def test_a_stray_huge_integer_label_is_an_error_naming_its_row_not_a_huge_class_list(tmp_path):
    rows = [{"video": "a.mp4", "label": 2}, {"video": "b.mp4", "label": 10**8}, {"video": "c.mp4", "label": 0}]
    (tmp_path / "train.json").write_text(json.dumps(rows))
    split = AnnotationSplit(
        load_annotations(tmp_path / "train.json", caption_column=None, label_column="label"), None, "train.json"
    )
    with pytest.raises(ValueError, match=r"train\.json, entry 1: the label 100000000 would make .*--label_names_file"):
        resolve_class_names(split, None)
    assert MAX_CLASSES_FROM_INTEGER_LABELS >= 21_841  # ImageNet-21k-sized label sets still work


def test_classifier_gradient_accumulation_steps_like_one_batch_of_the_averaged_micro_batches(tmp_path):
    torch.manual_seed(0)
    config = ViCLIPConfig(**tiny_config_kwargs(), num_labels=3)
    model = ViCLIPForVideoClassification(config)
    initial = {name: parameter.detach().clone() for name, parameter in model.named_parameters()}
    items = [{"pixel_values": torch.randn(4, 3, 32, 32), "labels": torch.tensor(i % 3)} for i in range(4)]
    args = TrainingArguments(
        output_dir=str(tmp_path), per_device_train_batch_size=2, gradient_accumulation_steps=2, max_steps=1,
        optim="sgd", learning_rate=0.5, weight_decay=0.0, max_grad_norm=0.0, lr_scheduler_type="constant",
        train_sampling_strategy="sequential", remove_unused_columns=False, report_to="none", save_strategy="no",
        use_cpu=True,
    )  # fmt: skip
    ViCLIPTrainer(model=model, args=args, train_dataset=items).train()

    reference = ViCLIPForVideoClassification(config)
    reference.load_state_dict(initial)
    losses = []
    for micro_batch in (items[:2], items[2:]):
        batch = {key: torch.stack([item[key] for item in micro_batch]) for key in micro_batch[0]}
        losses.append(reference(**batch).loss)
    ((losses[0] + losses[1]) / 2).backward()
    for name, parameter in reference.named_parameters():
        expected = initial[name] - 0.5 * parameter.grad
        torch.testing.assert_close(dict(model.named_parameters())[name].detach(), expected, rtol=0, atol=1e-5)


def test_evaluation_batch_without_a_readable_video_is_skipped_and_counted(corpus, tmp_path):
    processor = tiny_processor()
    annotations = load_annotations(corpus.annotation_file("val"), caption_column=None, label_column="label")
    rows = annotations.to_list()
    for row in rows[:3]:  # the whole first batch of 3
        row["video"] = "missing.mp4"
    dataset = EvaluationVideoDataset(
        datasets.Dataset.from_list(rows), processor.video_processor, video_root=corpus.root
    )
    loader = torch.utils.data.DataLoader(dataset, batch_size=3, collate_fn=VideoDataCollator())
    outputs = predict(
        lambda pixel_values: pixel_values.flatten(1)[:, :4], loader, device=torch.device("cpu"), dtype=torch.float32
    )
    assert outputs["index"].tolist() == [3, 4, 5] and outputs["num_skipped"] == 3


# ------------------------------------------------------------------------------------------------------------------
# Transforms and views
# ------------------------------------------------------------------------------------------------------------------


def test_temporal_views_are_consecutive_windows_sampled_at_their_middles(tmp_path):
    long_video = write_index_video(str(tmp_path / "long.mp4"), num_frames=32)
    views = temporal_view_frames(long_video, num_frames=4, num_clips=2)
    assert [frame_indices_of(view) for view in views] == [[1, 5, 9, 13], [17, 21, 25, 29]]
    short_video = write_index_video(str(tmp_path / "short.mp4"), num_frames=6)
    views = temporal_view_frames(short_video, num_frames=4, num_clips=2)
    assert [frame_indices_of(view) for view in views] == [[0, 1, 2, 2], [3, 4, 5, 5]]


def test_spatial_crops_resize_the_short_side_and_span_the_long_side():
    frames = torch.arange(64, dtype=torch.uint8).repeat_interleave(4).view(1, 1, 1, 256).expand(2, 3, 64, 256)
    crops = spatial_crops(frames.contiguous(), 32, 32, 3, interpolation=InterpolationMode.BILINEAR)
    assert [tuple(crop.shape) for crop in crops] == [(2, 3, 32, 32)] * 3
    means = [crop.float().mean().item() for crop in crops]
    assert means[0] < 12 and abs(means[1] - 31.5) < 2 and means[2] > 51  # left end, centre, right end


def test_one_view_is_the_processor_evaluation_transform(corpus):
    processor = tiny_processor()
    annotations = load_annotations(corpus.annotation_file("val"), caption_column=None, label_column="label")
    dataset = EvaluationVideoDataset(annotations, processor.video_processor, video_root=corpus.root)
    item = dataset[0]
    expected = processor(videos=str(corpus.root / annotations[0]["video"]))["pixel_values"]
    assert item["pixel_values"].shape == (1, 4, 3, 32, 32) and item["index"] == 0
    torch.testing.assert_close(item["pixel_values"], expected)


def test_multi_view_items_stack_clips_times_crops_views(tmp_path):
    write_index_video(str(tmp_path / "wide.mp4"), num_frames=20, height=40, width=64)
    annotations = load_annotations(
        datasets.Dataset.from_dict({"video": ["wide.mp4"], "label": ["up"]}), caption_column=None, label_column="label"
    )
    dataset = EvaluationVideoDataset(
        annotations, tiny_processor().video_processor, video_root=tmp_path, num_clips=2, num_crops=3
    )
    item = dataset[0]
    assert item["pixel_values"].shape == (6, 4, 3, 32, 32) and item["labels"] == 0


def test_predict_averages_the_views_and_keeps_each_video_once():
    # two batches of videos with 3 views; view v of video i is filled with 10 * i + v; the last video comes twice
    def batch(indices):
        values = torch.tensor([[10.0 * i + v for v in range(3)] for i in indices])
        return {
            "pixel_values": values.view(len(indices), 3, 1, 1, 1, 1).expand(-1, -1, 2, 3, 2, 2).contiguous(),
            "labels": torch.tensor(indices) % 2,
            "index": torch.tensor(indices),
            "num_skipped": torch.tensor(1),
        }

    def score(pixel_values):  # a two-class score: the view's value and its negative
        value = pixel_values.mean(dim=(1, 2, 3, 4))
        return torch.stack([value, -value], dim=-1)

    outputs = predict(score, [batch([0, 1]), batch([2, 2])], device=torch.device("cpu"), dtype=torch.float32)
    assert outputs["index"].tolist() == [0, 1, 2] and outputs["num_skipped"] == 2
    torch.testing.assert_close(outputs["logits"][:, 0], torch.tensor([1.0, 11.0, 21.0]))


def test_multi_view_evaluation_runs_end_to_end(monkeypatch, corpus, finetuned, tmp_path):
    run_script(
        monkeypatch,
        "--model_name_or_path", str(finetuned), *corpus_args(corpus, ["val"]), "--output_dir", str(tmp_path),
        "--do_eval", "--eval_num_clips", "2", "--eval_num_crops", "3",
    )  # fmt: skip
    assert read_json(tmp_path / "eval_results.json")["eval_samples"] == 6


# ------------------------------------------------------------------------------------------------------------------
# Publishing and arguments
# ------------------------------------------------------------------------------------------------------------------


def test_push_to_hub_publishes_the_output_folder(monkeypatch, corpus, tiny_viclip_folder, tmp_path):
    calls = {}

    class FakeApi:
        def __init__(self, token=None):
            calls["token"] = token

        def whoami(self):
            return {"name": "user", "auth": {"accessToken": {"role": "write"}}}

        def create_repo(self, repo_id, **kwargs):
            calls["repo"] = repo_id

        def upload_folder(self, repo_id, folder_path, **kwargs):
            calls["uploaded"] = sorted(os.listdir(folder_path))
            return "https://huggingface.co/user/tiny-classifier/commit/0"

    monkeypatch.setattr("huggingface_hub.HfApi", FakeApi)
    run_script(
        monkeypatch,
        "--model_name_or_path", str(tiny_viclip_folder), *corpus_args(corpus, ["train"]),
        "--output_dir", str(tmp_path), "--do_train", "--max_steps", "1", "--push_to_hub",
        "--hub_model_id", "user/tiny-classifier", "--hub_token", "secret",
    )  # fmt: skip
    assert calls["repo"] == "user/tiny-classifier" and calls["token"] == "secret"
    assert {"README.md", "config.json", "model.safetensors", "processor_config.json"} <= set(calls["uploaded"])


@pytest.mark.parametrize("failing", ["whoami", "upload_folder"])
def test_push_to_hub_failure_ends_the_run_with_one_line(monkeypatch, corpus, tiny_viclip_folder, tmp_path, failing):
    class FailingApi:
        def __init__(self, token=None):
            pass

        def whoami(self):
            if failing == "whoami":
                raise ConnectionError("Max retries exceeded\nwith url: /api/whoami-v2\n(Caused by ...)")
            return {"name": "user", "auth": {"accessToken": {"role": "write"}}}

        def create_repo(self, repo_id, **kwargs):
            pass

        def upload_folder(self, repo_id, folder_path, **kwargs):
            raise ConnectionError("Max retries exceeded\nwith url: /api/models/user/tiny-classifier/commit/main")

    monkeypatch.setattr("huggingface_hub.HfApi", FailingApi)
    with pytest.raises(SystemExit) as stopped:
        run_script(
            monkeypatch,
            "--model_name_or_path", str(tiny_viclip_folder), *corpus_args(corpus, ["train"]),
            "--output_dir", str(tmp_path), "--do_train", "--max_steps", "1", "--push_to_hub",
            "--hub_model_id", "user/tiny-classifier",
        )  # fmt: skip
    message = str(stopped.value.code)
    assert message.startswith("error: --push_to_hub user/tiny-classifier:") and "\n" not in message
    assert "ConnectionError: Max retries exceeded" in message
    assert stopped.value.__context__ is None or stopped.value.__suppress_context__  # no traceback of the cause
    if failing == "upload_folder":  # the run trained and saved before publishing
        assert "is complete; publish it later" in message and (tmp_path / "model.safetensors").is_file()


def test_every_argument_has_help():
    for arguments in (ModelArguments, DataArguments, EvaluationArguments):
        for argument in dataclasses.fields(arguments):
            assert len(argument.metadata.get("help", "")) > 20, f"{arguments.__name__}.{argument.name} lacks help"


def test_demo_config_parses(monkeypatch, tmp_path):
    # The demo starts from the pretraining demo's output folder, which a clean checkout does not have yet.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "outputs" / "demo-pretrain").mkdir(parents=True)
    config = REPO_ROOT / "configs" / "demo_classification.json"
    monkeypatch.setattr(sys, "argv", ["run_classification.py", str(config)])
    model_args, data_args, eval_args, training_args = run_classification.parse_arguments()
    run_classification.check_arguments(model_args, data_args, eval_args, training_args)
    assert data_args.synthetic_corpus_dir and training_args.do_eval


def run_demo(config_name: str, model_dir: Path, output_dir: Path, script: str = "run_classification.py") -> dict:
    """Runs a demo configuration from `model_dir` in a fresh process from the repository root, writing to
    `output_dir`."""
    config = json.loads((REPO_ROOT / "configs" / config_name).read_text())
    config["model_name_or_path"] = str(model_dir)
    config["output_dir"] = str(output_dir)
    (output_dir.parent / config_name).write_text(json.dumps(config))
    subprocess.run(
        [sys.executable, str(REPO_ROOT / script), str(output_dir.parent / config_name)],
        cwd=REPO_ROOT,
        check=True,
        timeout=600,
    )
    return read_json(output_dir / "eval_results.json")


@pytest.mark.slow
def test_pretraining_demo_retrieves_held_out_clips_well_above_chance(pretraining_demo_model):
    results = read_json(pretraining_demo_model / "eval_results.json")
    assert results["eval_num_pairs"] == 72
    assert results["eval_t2v_r1"] >= 15.0  # chance: 1.4 (72 captions); last measured 23.6


@pytest.mark.slow
def test_demo_fine_tunes_to_at_least_three_times_chance_within_ten_minutes(pretraining_demo_model, tmp_path):
    results = run_demo("demo_classification.json", pretraining_demo_model, tmp_path / "demo")
    assert results["eval_top1"] >= 3 * 100 / 6  # chance: 1 in 6 colours, on the held-out clips


@pytest.mark.slow
def test_zero_shot_demo_scores_the_pretraining_demo_at_least_twice_chance(pretraining_demo_model, tmp_path):
    results = run_demo("demo_zero_shot.json", pretraining_demo_model, tmp_path / "demo", script="run_zero_shot.py")
    assert results["eval_zero_shot_samples"] == 72
    assert results["eval_zero_shot_top1"] >= 2 * 100 / 6  # chance: 1 in 6 colours
