# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""The Hub model cards of every folder the project writes (converter, run_pretrain.py, run_classification.py): they
parse, their `pipeline_tag` names a task whose pipeline gives meaningful output, their prose agrees with their
metadata, their numbers are rounded, their usage code names a Hub id or a placeholder and runs as printed, and their
licence is the released weights' (converted) or the trainer's choice, inherited from the starting folder by default."""

import json
import re
from pathlib import Path

import pytest
import yaml
from huggingface_hub import ModelCard
from transformers import TrainingArguments, pipeline

import run_classification
import run_pretrain
from viclip import ViCLIPConfig
from viclip_train import model_card
from viclip_train.model_card import (
    PLACEHOLDER_NAMESPACE,
    RELEASED_WEIGHTS_LICENSE,
    build_converted_model_card,
    guess_training_data,
    trained_weights_license,
    usage_model_id,
)

from .processing_helpers import run_fresh_python
from .project_folders import CLASSIFIER_LICENSE, project_folders


# The Hub's task ids (huggingface.js `PIPELINE_DATA`) that a video model card could name.
HUB_VIDEO_TASKS = {
    "video-classification",
    "zero-shot-image-classification",
    "feature-extraction",
    "video-text-to-text",
}
# A repository id as usage code may name it: `namespace/name`, nothing that could be a local path.
HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")
# The model a usage line loads: `from_pretrained("...")` or `pipeline(..., model="...")`.
MODEL_ARGUMENT = re.compile(r'(?:from_pretrained\(|model=)"([^"]+)"')
# The Value column of a card's results table.
TABLE_VALUE = re.compile(r"^\|(?:[^|]*\|){4} *(-?\d[\d.]*) *\|", re.MULTILINE)


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    return project_folders(tmp_path_factory)


@pytest.fixture(scope="module")
def published_card_folder(tmp_path_factory) -> Path:
    """The card the converter writes for the released ViCLIP-L/14 InternVid-10M-FLT checkpoint (with results)."""
    folder = tmp_path_factory.mktemp("l14-card")
    config = ViCLIPConfig.from_preset("viclip-l14")
    card = build_converted_model_card(
        "ViClip-InternVid-10M-FLT.pth", config, "viclip-l14", "InternVid-10M-FLT", "org/viclip-l14"
    )
    card.save(folder / "README.md")
    return folder


def all_cards(folders, published_card_folder) -> dict[str, Path]:
    return {**folders.all(), "converter (published L/14)": published_card_folder}


def read_card(folder: Path) -> tuple[dict, str]:
    """The card's metadata (parsed as YAML, as the Hub does) and its Markdown body."""
    text = (folder / "README.md").read_text()
    _, header, body = text.split("---\n", 2)
    return yaml.safe_load(header), body


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, re.DOTALL)


def section(body: str, heading: str) -> str:
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", body, re.DOTALL | re.MULTILINE)
    assert match, f"no section {heading!r}"
    return match.group(1)


def metric_values(metadata: dict) -> list[float]:
    return [
        metric["value"]
        for entry in metadata.get("model-index", [])
        for result in entry["results"]
        for metric in result["metrics"]
    ]


def card_args(tmp_path: Path, module, **model_fields):
    """Argument dataclasses of a script, as its command line would give them, for calling its card builder."""
    model_args = module.ModelArguments(**model_fields)
    train_file = tmp_path / "train.json"  # the argument dataclasses check that it exists
    train_file.write_text('[{"video": "a.mp4", "caption": "a clip", "label": "a"}]')
    data_args = module.DataArguments(train_file=str(train_file))
    training_args = TrainingArguments(output_dir=str(tmp_path / "out"), report_to="none", use_cpu=True)
    return model_args, data_args, training_args


# ------------------------------------------------------------------------------------------------------------------
# Metadata
# ------------------------------------------------------------------------------------------------------------------


def test_every_card_parses_and_its_metadata_round_trips(folders, published_card_folder):
    for producer, folder in all_cards(folders, published_card_folder).items():
        metadata, _ = read_card(folder)
        card = ModelCard.load(folder / "README.md")
        assert card.data.to_dict() == metadata, producer
        assert ModelCard(str(card)).data.to_dict() == metadata, producer
        assert metadata["library_name"] == "transformers" and "viclip" in metadata["tags"], producer
        assert metadata.get("pipeline_tag", "video-classification") in HUB_VIDEO_TASKS, producer


def test_converted_model_card_metadata_round_trips(folders):
    card = ModelCard.load(folders.converted / "README.md")
    metadata = card.data.to_dict()
    assert metadata["library_name"] == "transformers"
    assert "pipeline_tag" not in metadata  # a dual encoder: no Hub task fits (see the next tests)
    assert metadata["license"] == "mit"
    assert "viclip" in metadata["tags"]
    assert "model-index" not in metadata  # no published numbers for a checkpoint of unknown origin
    assert ModelCard(str(card)).data.to_dict() == metadata
    assert "```python\nfrom transformers import AutoModel, AutoProcessor" in card.text
    assert "InternVid: A Large-scale Video-Text Dataset for Multimodal Understanding and Generation" in card.text


def test_dual_encoder_cards_name_no_pipeline_tag_and_show_the_zero_shot_pipeline(folders, published_card_folder):
    for folder in [*folders.dual_encoders().values(), published_card_folder]:
        metadata, body = read_card(folder)
        assert "pipeline_tag" not in metadata
        how_to = section(body, "Classifying videos")
        assert "names no `pipeline_tag`" in how_to
        assert 'pipeline("zero-shot-video-classification"' in python_blocks(how_to)[0]


def test_classifier_card_tag_is_a_pipeline_that_returns_the_classifier_labels(folders):
    metadata, body = read_card(folders.classifier)
    assert metadata["pipeline_tag"] == "video-classification"
    assert f"`pipeline_tag: {metadata['pipeline_tag']}`" in section(body, "Classifying videos")
    classify = pipeline(metadata["pipeline_tag"], model=str(folders.classifier))
    result = classify(str(folders.video), top_k=len(folders.class_names))
    assert sorted(entry["label"] for entry in result) == sorted(folders.class_names)


def test_model_card_declares_video_classification_and_its_top1_top5(folders):
    text = (folders.classifier / "README.md").read_text()
    metadata = yaml.safe_load(text.split("---")[1])
    assert metadata["pipeline_tag"] == "video-classification" and metadata["library_name"] == "transformers"
    results = metadata["model-index"][0]["results"][0]
    assert results["task"]["type"] == "video-classification"
    values = {metric["type"]: metric["value"] for metric in results["metrics"]}
    eval_results = json.loads((folders.classifier / "eval_results.json").read_text())
    assert values == {
        "accuracy": round(eval_results["eval_top1"], 2),
        "top_5_accuracy": round(eval_results["eval_top5"], 2),
    }
    assert "base_model" not in metadata  # a local folder is not a Hub id


def test_pretraining_card_holds_the_validation_retrieval_recalls(folders):
    card = ModelCard.load(folders.pretrained / "README.md")
    assert card.data.library_name == "transformers"
    assert {result.metric_type for result in card.data.eval_results} == {"recall@1", "recall@5", "recall@10"}
    recalls = json.loads((folders.pretrained / "eval_results.json").read_text())
    direction = {"text-to-video": "t2v", "video-to-text": "v2t"}
    for result in card.data.eval_results:
        k = result.metric_type.removeprefix("recall@")
        assert result.metric_value == round(recalls[f"eval_{direction[result.metric_config]}_r{k}"], 2)


def test_published_zero_shot_results_go_to_the_l14_10m_flt_card_only(tmp_path):
    name = "ViClip-InternVid-10M-FLT.pth"
    assert guess_training_data(name) == "InternVid-10M-FLT"
    l14 = ViCLIPConfig.from_preset("viclip-l14")
    card = build_converted_model_card(name, l14, "viclip-l14", "InternVid-10M-FLT", "org/viclip-l14")
    path = tmp_path / "README.md"
    card.save(path)
    metadata = ModelCard.load(path).data.to_dict()
    assert metadata == card.data.to_dict()
    assert metadata["datasets"] == ["OpenGVLab/InternVid"]
    results = metadata["model-index"][0]["results"]
    values = {(r["dataset"]["name"], m["type"]): m["value"] for r in results for m in r["metrics"]}
    assert values[("Kinetics-400", "accuracy")] == 64.80
    assert values[("Kinetics-600", "mean_top1_top5_accuracy")] == 73.53
    assert values[("Kinetics-700", "accuracy")] == 54.30
    b16 = ViCLIPConfig.from_preset("viclip-b16")
    other = build_converted_model_card(name, b16, "viclip-b16", "InternVid-10M-FLT", "org/viclip-b16")
    assert "model-index" not in other.data.to_dict()


def test_evaluation_numbers_are_rounded_to_two_decimals(folders, published_card_folder):
    for producer, folder in all_cards(folders, published_card_folder).items():
        metadata, body = read_card(folder)
        assert all(value == round(value, 2) for value in metric_values(metadata)), producer
        table_values = TABLE_VALUE.findall(body)
        assert all(re.fullmatch(r"-?\d+\.\d{2}", value) for value in table_values), producer


def test_result_builders_round_what_they_are_given():
    (result,) = model_card.classification_eval_results(dataset_type="x", dataset_name="x", top1=100 / 3)
    assert result.metric_value == 33.33
    recalls = model_card.retrieval_eval_results(dataset_type="x", dataset_name="x", recalls={"t2v": {1: 200 / 3}})
    assert [result.metric_value for result in recalls] == [66.67]


# ------------------------------------------------------------------------------------------------------------------
# Prose agrees with metadata
# ------------------------------------------------------------------------------------------------------------------


def test_evaluation_section_appears_exactly_when_the_metadata_holds_results(folders, published_card_folder):
    for producer, folder in all_cards(folders, published_card_folder).items():
        metadata, body = read_card(folder)
        has_results = "model-index" in metadata
        assert ("## Evaluation" in body) == has_results, producer
        if has_results:
            table = [float(value) for value in TABLE_VALUE.findall(body)]
            assert table == metric_values(metadata), producer
        else:
            assert "published" not in body.lower(), producer  # no claim of numbers the card does not hold


def test_only_cards_with_a_tag_mention_one(folders, published_card_folder):
    for producer, folder in all_cards(folders, published_card_folder).items():
        metadata, body = read_card(folder)
        mentioned = set(re.findall(r"`pipeline_tag: ([\w-]+)`", body))
        assert mentioned == ({metadata["pipeline_tag"]} if "pipeline_tag" in metadata else set()), producer


def test_license_section_agrees_with_the_metadata(folders, published_card_folder):
    for producer, folder in all_cards(folders, published_card_folder).items():
        metadata, body = read_card(folder)
        license_text = section(body, "License").strip()
        if "license" in metadata:
            assert license_text.startswith(f"`{metadata['license']}`."), producer
        else:
            assert license_text.startswith(("Not declared", "Unknown")), producer


# ------------------------------------------------------------------------------------------------------------------
# Usage code
# ------------------------------------------------------------------------------------------------------------------


def test_usage_code_names_a_hub_id_or_placeholder_never_a_local_path(folders, published_card_folder):
    for producer, folder in all_cards(folders, published_card_folder).items():
        text = (folder / "README.md").read_text()
        assert str(folder.parent) not in text, producer  # nothing of the trainer's file system
        names = MODEL_ARGUMENT.findall("\n".join(python_blocks(text)))
        assert names, producer
        for name in names:
            assert HUB_ID.fullmatch(name) and not Path(name).exists(), (producer, name)


def test_usage_model_id_is_the_hub_id_or_a_placeholder_named_after_the_folder(tmp_path):
    assert usage_model_id("org/model", tmp_path / "out") == "org/model"
    assert usage_model_id("model", tmp_path / "out") == f"{PLACEHOLDER_NAMESPACE}/model"
    assert usage_model_id(None, tmp_path / "out") == f"{PLACEHOLDER_NAMESPACE}/out"


def test_card_usage_code_runs_as_printed_in_a_process_without_viclip(folders, tmp_path):
    """Every Python block of every card, with its repository id replaced by the local folder and `video.mp4` by a
    real file, each in its own namespace of one interpreter that never imports viclip (what a Hub user has)."""
    usage = python_blocks((folders.converted / "README.md").read_text())[0]
    assert len(usage.strip().splitlines()) == 5
    program = []
    for folder in folders.all().values():
        text = (folder / "README.md").read_text()
        for block in python_blocks(text):
            for name in set(MODEL_ARGUMENT.findall(block)):
                block = block.replace(f'"{name}"', repr(str(folder)))
            block = block.replace('"video.mp4"', repr(str(folders.video)))
            if "probs = " in block:
                block += "print(tuple(probs.shape), round(probs.sum().item(), 4))\n"
            program.append(f"exec({block!r}, {{}})")
    program += ["import sys", "print('viclip imported:', any(name.split('.')[0] == 'viclip' for name in sys.modules))"]
    lines = run_fresh_python("\n".join(program), cwd=str(tmp_path)).strip().splitlines()
    assert lines.count("(1, 2) 1.0") == len(folders.dual_encoders())
    rankings = [line for line in lines if line.startswith("[{'score'")]
    assert len(rankings) == len(folders.all())  # each dual encoder's zero-shot block, the classifier's usage
    assert lines[-1] == "viclip imported: False"


# ------------------------------------------------------------------------------------------------------------------
# Licence
# ------------------------------------------------------------------------------------------------------------------


def test_converted_card_declares_the_released_weights_license(folders, published_card_folder):
    for folder in (folders.converted, published_card_folder):
        metadata, body = read_card(folder)
        assert metadata["license"] == RELEASED_WEIGHTS_LICENSE
        assert "OpenGVLab/ViCLIP" in section(body, "License")


def test_trained_card_inherits_the_license_of_the_local_folder_training_started_from(folders):
    converted, _ = read_card(folders.converted)
    pretrained, body = read_card(folders.pretrained)
    assert pretrained["license"] == converted["license"]
    assert "Inherited from the checkpoint training started from (the local folder `converted`)" in body


def test_card_license_chosen_by_the_trainer_wins(folders):
    metadata, body = read_card(folders.classifier)
    assert metadata["license"] == CLASSIFIER_LICENSE  # the pretrained folder it started from declares mit
    assert "`--card_license`" in section(body, "License")


@pytest.mark.parametrize("script", [run_pretrain, run_classification], ids=["run_pretrain", "run_classification"])
def test_card_license_flag_defaults_to_the_starting_folders_license(script):
    field = next(f for f in script.ModelArguments.__dataclass_fields__.values() if f.name == "card_license")
    assert field.default is None and "Default: the licence declared by the card" in field.metadata["help"]


def test_license_of_weights_trained_from_random_initialisation_is_unknown_and_said_so(tmp_path):
    model_args, data_args, training_args = card_args(tmp_path, run_pretrain, config_name="viclip-b16")
    card = run_pretrain.pretraining_model_card(model_args, data_args, training_args, 8, {})
    metadata = card.data.to_dict()
    assert "license" not in metadata and "pipeline_tag" not in metadata
    assert "Not declared: these weights were trained from random initialisation" in card.text
    assert "## Evaluation" not in card.text


def test_license_of_weights_fine_tuned_from_a_hub_checkpoint_is_unknown_and_names_it(tmp_path):
    start = "someone/viclip-somewhere"
    model_args, data_args, training_args = card_args(tmp_path, run_classification, model_name_or_path=start)
    eval_args = run_classification.EvaluationArguments()
    card = run_classification.classification_model_card(
        model_args, data_args, eval_args, training_args, ["a", "b"], {}
    )
    metadata = card.data.to_dict()
    assert "license" not in metadata and metadata["base_model"] == start
    assert f"the Hub checkpoint `{start}`, whose licence (see its card) applies" in card.text


def test_license_of_weights_fine_tuned_from_a_hub_checkpoint_is_inherited_from_its_card(monkeypatch, tmp_path):
    start = "someone/viclip-somewhere"
    (tmp_path / "hub").mkdir()
    ModelCard("---\nlicense: apache-2.0\n---\nA card.").save(tmp_path / "hub" / "README.md")
    downloads = []

    def hf_hub_download(repo_id, filename, **kwargs):  # the Hub (or its local cache) serving that card
        downloads.append((repo_id, filename))
        return str(tmp_path / "hub" / filename)

    monkeypatch.setattr("huggingface_hub.hf_hub_download", hf_hub_download)
    model_args, data_args, training_args = card_args(tmp_path, run_classification, model_name_or_path=start)
    eval_args = run_classification.EvaluationArguments()
    card = run_classification.classification_model_card(
        model_args, data_args, eval_args, training_args, ["a", "b"], {}
    )
    assert downloads == [(start, "README.md")]
    assert card.data.to_dict()["license"] == "apache-2.0"
    assert f"Inherited from the Hub checkpoint training started from (`{start}`)" in card.text


def test_classifier_card_on_the_synthetic_corpus_names_the_class_column_it_was_trained_on(tmp_path):
    model_args, _, training_args = card_args(tmp_path, run_classification, model_name_or_path=str(tmp_path))
    data_args = run_classification.DataArguments(synthetic_corpus_dir=str(tmp_path / "corpus"), label_column="color")
    metrics = {"eval_top1": 50.0, "eval_top5": 100.0}
    card = run_classification.classification_model_card(
        model_args, data_args, run_classification.EvaluationArguments(), training_args, ["red", "blue"], metrics
    )
    assert "direction" not in card.text
    assert "(classes: its `color` column)" in card.text
    assert card.data.to_dict()["model-index"][0]["results"][0]["dataset"]["name"] == "synthetic-color"


def test_license_is_unknown_when_the_starting_folder_declares_none(tmp_path):
    (tmp_path / "start").mkdir()
    assert trained_weights_license(None, str(tmp_path / "start")) == (
        None,
        "Unknown: training started from the local folder `start`, whose card declares no licence; the licence of "
        "those weights applies to these too. `--card_license` records a licence.",
    )


def test_wise_ft_card_summary_names_both_source_models_in_one_readable_sentence(tmp_path):
    from viclip_train.eval.wise_ft import DEFAULT_EXCLUDED, WiseFTArguments, WiseFTReport, wise_ft_model_card

    (tmp_path / "viclip").mkdir()
    (tmp_path / "clip").mkdir()
    args = WiseFTArguments(
        viclip_model_name_or_path=str(tmp_path / "viclip"),
        clip_model_name_or_path=str(tmp_path / "clip"),
        output_dir=str(tmp_path / "out"),
    )
    card = wise_ft_model_card(args, DEFAULT_EXCLUDED, WiseFTReport(mixed=["a"], excluded=["b"]))
    assert (
        "A WiSE-FT weight-space ensemble (coefficient 0.5) of two models: the ViCLIP model (the local folder "
        "`viclip`) and the model built from its CLIP initialisation (the local folder `clip`), as the InternVid "
        "reference's zero-shot evaluation option `wiseft` makes it."
    ) in card.text


def test_pretraining_card_names_local_data_by_file_name_only(tmp_path):
    model_args, data_args, training_args = card_args(tmp_path, run_pretrain, config_name="viclip-b16")
    training_args.hub_model_id = "org/pretrained"
    metrics = {f"eval_{d}_r{k}": 100 / 3 for d in ("t2v", "v2t") for k in (1, 5, 10)}
    data_args.validation_file = str(tmp_path / "val.json")
    card = run_pretrain.pretraining_model_card(model_args, data_args, training_args, 8, metrics)
    assert str(tmp_path) not in card.text
    assert "the local file `train.json`" in card.text and 'from_pretrained("org/pretrained"' in card.text
    assert set(metric_values(card.data.to_dict())) == {33.33}
