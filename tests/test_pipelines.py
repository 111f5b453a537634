# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""The zero-shot-video-classification pipeline and the stock video-classification pipeline with ViCLIP, on every
folder the project writes, through both doors: `import viclip` (no `trust_remote_code`), and `trust_remote_code=True`
in a process that never imports viclip."""

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import pipeline
from transformers.pipelines import PIPELINE_REGISTRY

from tests.conftest import tiny_config_kwargs
from tests.processing_helpers import bundled_clips, run_fresh_python, tiny_processor
from tests.project_folders import project_folders
from viclip import (
    KINETICS_TEMPLATES,
    ViCLIPConfig,
    ViCLIPForVideoClassification,
    ViCLIPModel,
    ZeroShotVideoClassificationPipeline,
)
from viclip.pipeline_viclip import ZERO_SHOT_TASK, embed_label_prompts


README = Path(__file__).resolve().parents[1] / "README.md"
LABELS = ["riding a bike", "playing guitar", "surfing"]


@pytest.fixture(scope="module")
def classifier(tiny_viclip_folder):
    return pipeline("zero-shot-video-classification", model=str(tiny_viclip_folder))


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    return project_folders(tmp_path_factory)


@pytest.fixture(scope="module")
def video():
    return np.random.default_rng(0).integers(0, 256, (12, 40, 48, 3), dtype=np.uint8)


def expected_scores(classifier, video, labels, templates):
    """Softmax over labels of exp(logit_scale) x the mean cosine similarity over templates, computed by hand."""
    model, processor = classifier.model, classifier.processor
    captions = [template.format(label) for label in labels for template in templates]
    inputs = processor(text=captions, videos=video)
    with torch.no_grad():
        video_embeds = model.get_video_features(pixel_values=inputs["pixel_values"]).pooler_output
        text_embeds = model.get_text_features(
            input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"]
        ).pooler_output
    cosine = torch.nn.functional.normalize(video_embeds, dim=-1) @ torch.nn.functional.normalize(text_embeds, dim=-1).T
    logits = model.logit_scale.clamp(max=model.config.logit_scale_max).exp() * cosine.view(
        len(labels), len(templates)
    ).mean(-1)
    return dict(zip(labels, logits.softmax(-1).tolist(), strict=True))


def test_zero_shot_task_is_registered_on_import():
    assert (
        PIPELINE_REGISTRY.supported_tasks["zero-shot-video-classification"]["impl"]
        is ZeroShotVideoClassificationPipeline
    )


def test_kinetics_templates_are_the_16_reference_templates():
    assert len(KINETICS_TEMPLATES) == 16 and len(set(KINETICS_TEMPLATES)) == 16
    assert KINETICS_TEMPLATES[0] == "a photo of action {}" and KINETICS_TEMPLATES[-1] == "The woman is {}"
    assert all("{}" in template for template in KINETICS_TEMPLATES)


def test_scores_are_sorted_and_sum_to_one(classifier, video):
    result = classifier(video, candidate_labels=LABELS)
    scores = [entry["score"] for entry in result]
    assert sorted(entry["label"] for entry in result) == sorted(LABELS)
    assert scores == sorted(scores, reverse=True) and sum(scores) == pytest.approx(1.0, abs=1e-6)


def test_kinetics_scores_average_cosine_similarity_over_the_16_templates(classifier, video):
    result = classifier(video, candidate_labels=LABELS, hypothesis_template="kinetics")
    expected = expected_scores(classifier, video, LABELS, KINETICS_TEMPLATES)
    assert {entry["label"]: entry["score"] for entry in result} == pytest.approx(expected, abs=1e-5)


def test_template_may_be_a_string_or_a_list(classifier, video):
    single = classifier(video, candidate_labels=LABELS, hypothesis_template="a clip of {}")
    several = classifier(video, candidate_labels=LABELS, hypothesis_template=["a clip of {}", "{}"])
    assert {e["label"]: e["score"] for e in single} == pytest.approx(
        expected_scores(classifier, video, LABELS, ["a clip of {}"]), abs=1e-5
    )
    assert {e["label"]: e["score"] for e in several} == pytest.approx(
        expected_scores(classifier, video, LABELS, ["a clip of {}", "{}"]), abs=1e-5
    )


def test_template_without_placeholder_is_rejected(classifier, video):
    with pytest.raises(ValueError, match="template"):
        classifier(video, candidate_labels=LABELS, hypothesis_template="a video")


@pytest.mark.parametrize(
    ("template", "found"),
    [
        ("a {} video of {}", r"\(its fields: \['\{\}', '\{\}'\]\)"),
        ("a video of {label}", r"\(its fields: \['\{label\}'\]\)"),
    ],
)
def test_a_template_with_other_fields_than_one_placeholder_is_rejected_naming_it(classifier, video, template, found):
    with pytest.raises(ValueError, match=rf"exactly one '\{{\}}'.*got '{re.escape(template)}' {found}"):
        classifier(video, candidate_labels=LABELS, hypothesis_template=["a clip of {}", template])


def test_label_set_is_embedded_once_per_call(classifier, video, monkeypatch):
    calls = []
    original = classifier.model.get_text_features
    monkeypatch.setattr(classifier.model, "get_text_features", lambda **kw: calls.append(1) or original(**kw))
    results = classifier([video, video[:5], bundled_clips()["carphone_pristine"]], candidate_labels=LABELS)
    assert len(results) == 3 and len(calls) == 1


def test_one_video_gives_one_ranking_and_a_list_gives_one_per_video(classifier, video):
    frames = list(video[:6])  # a list of frames is one video
    assert isinstance(classifier(frames, candidate_labels=LABELS)[0], dict)
    batch = classifier([bundled_clips()["bikes"], video], candidate_labels=LABELS)
    assert len(batch) == 2 and all(isinstance(ranking, list) and len(ranking) == 3 for ranking in batch)


def test_video_classification_pipeline_runs_a_saved_classifier(tmp_path):
    labels = {0: "biking", 1: "cooking", 2: "surfing"}
    ViCLIPForVideoClassification(ViCLIPConfig(**tiny_config_kwargs(id2label=labels))).save_pretrained(tmp_path)
    tiny_processor().save_pretrained(tmp_path)
    classify = pipeline("video-classification", model=str(tmp_path))
    result = classify(bundled_clips()["bikes"], top_k=3)
    assert sorted(entry["label"] for entry in result) == sorted(labels.values())
    assert sum(entry["score"] for entry in result) == pytest.approx(1.0, abs=1e-5)


def test_label_embeddings_are_the_template_mean_of_normalised_text_embeddings(classifier):
    model, processor = classifier.model, classifier.processor
    templates = ["a clip of {}", "{}"]
    inputs = processor(text=[t.format(label) for label in LABELS for t in templates], return_tensors="pt")
    with torch.no_grad():
        text_embeds = model.get_text_features(**inputs).pooler_output
    expected = torch.nn.functional.normalize(text_embeds, dim=-1).view(len(LABELS), len(templates), -1).mean(1)
    torch.testing.assert_close(embed_label_prompts(model, processor, LABELS, templates), expected)
    torch.testing.assert_close(
        embed_label_prompts(model, processor, LABELS, "kinetics", batch_size=5),
        embed_label_prompts(model, processor, LABELS, list(KINETICS_TEMPLATES)),
    )


def test_label_embeddings_are_unit_with_one_template_and_shorter_with_several_as_documented(classifier):
    import viclip.pipeline_viclip

    model, processor = classifier.model, classifier.processor
    one = embed_label_prompts(model, processor, LABELS, "a clip of {}").norm(dim=-1)
    several = embed_label_prompts(model, processor, LABELS, "kinetics").norm(dim=-1)
    torch.testing.assert_close(one, torch.ones(len(LABELS)))
    assert torch.all(several < 1.0)  # the mean of unit vectors that differ: not normalised again
    for text in (viclip.pipeline_viclip.embed_label_prompts.__doc__, README.read_text()):
        assert "not normalised again" in " ".join(text.split())


def test_every_dual_encoder_folder_runs_zero_shot_after_import_viclip_without_trust_remote_code(folders):
    for producer, folder in folders.dual_encoders().items():
        classify = pipeline(ZERO_SHOT_TASK, model=str(folder))  # trust_remote_code not given: no prompt, no error
        assert type(classify) is ZeroShotVideoClassificationPipeline, producer  # the package's class, not the copy
        result = classify(str(folders.video), candidate_labels=LABELS)
        assert sorted(entry["label"] for entry in result) == sorted(LABELS), producer


def test_every_saved_viclip_model_folder_names_the_zero_shot_pipeline_it_ships(folders, tiny_viclip_folder):
    for folder in [*folders.dual_encoders().values(), tiny_viclip_folder]:
        config = json.loads((folder / "config.json").read_text())
        assert config["custom_pipelines"][ZERO_SHOT_TASK]["impl"] == (
            "pipeline_viclip.ZeroShotVideoClassificationPipeline"
        )
        assert (folder / "pipeline_viclip.py").is_file()


def test_fine_tuned_classifier_folder_names_no_zero_shot_pipeline(folders):
    config = json.loads((folders.classifier / "config.json").read_text())
    assert config["architectures"] == ["ViCLIPForVideoClassification"] and "custom_pipelines" not in config


def test_fine_tuned_classifier_folder_runs_in_the_video_classification_pipeline(folders):
    classify = pipeline("video-classification", model=str(folders.classifier))
    result = classify(str(folders.video), top_k=len(folders.class_names))
    assert sorted(entry["label"] for entry in result) == sorted(folders.class_names)


def test_zero_shot_pipeline_refuses_a_classifier_folder_and_points_to_video_classification(folders):
    with pytest.raises(ValueError, match=r'ViCLIPForVideoClassification.*pipeline\("video-classification"'):
        pipeline(ZERO_SHOT_TASK, model=str(folders.classifier))


def test_zero_shot_pipeline_still_runs_a_model_built_in_memory():
    model = ViCLIPModel(ViCLIPConfig(**tiny_config_kwargs())).eval()  # no saved architectures to check
    classify = pipeline(ZERO_SHOT_TASK, model=model, processor=tiny_processor())
    assert len(classify(np.zeros((4, 32, 32, 3), np.uint8), candidate_labels=LABELS)) == len(LABELS)


def test_every_saved_folder_serves_its_pipeline_with_trust_remote_code_without_viclip(
    classifier, video, folders, tmp_path
):
    """One fresh interpreter that never imports viclip runs: the zero-shot pipeline on a folder saved by the pipeline,
    by the converter and by run_pretrain.py; the video-classification pipeline on run_classification.py's folder."""
    saved = tmp_path / "saved"
    classifier.save_pretrained(str(saved))
    np.save(tmp_path / "video.npy", video)
    expected = classifier(video, candidate_labels=LABELS, hypothesis_template="kinetics")
    dual_encoders = {name: str(folder) for name, folder in folders.dual_encoders().items()}
    expected_per_folder = {
        name: pipeline(ZERO_SHOT_TASK, model=folder)(str(folders.video), candidate_labels=LABELS)
        for name, folder in dual_encoders.items()
    }
    output = run_fresh_python(
        f"""
        import json, sys
        import numpy as np
        from transformers import pipeline
        classify = pipeline("zero-shot-video-classification", model={str(saved)!r}, trust_remote_code=True)
        result = classify(np.load("video.npy"), candidate_labels={LABELS!r}, hypothesis_template="kinetics")
        per_folder = {{}}
        for name, folder in {dual_encoders!r}.items():
            zero_shot = pipeline("zero-shot-video-classification", model=folder, trust_remote_code=True)
            ranking = zero_shot({str(folders.video)!r}, candidate_labels={LABELS!r})
            per_folder[name] = [type(zero_shot).__name__, ranking]
        video_classifier = pipeline("video-classification", model={str(folders.classifier)!r}, trust_remote_code=True)
        labels = [entry["label"] for entry in video_classifier({str(folders.video)!r}, top_k=4)]
        print(json.dumps({{
            "viclip_imported": any(name == "viclip" or name.startswith("viclip.") for name in sys.modules),
            "class": type(classify).__name__,
            "result": result,
            "per_folder": per_folder,
            "classifier_labels": labels,
        }}))
        """,
        cwd=str(tmp_path),
    )
    loaded = json.loads(output.strip().splitlines()[-1])
    assert loaded["viclip_imported"] is False and loaded["class"] == "ZeroShotVideoClassificationPipeline"
    assert [e["label"] for e in loaded["result"]] == [e["label"] for e in expected]
    assert [e["score"] for e in loaded["result"]] == pytest.approx([e["score"] for e in expected], abs=1e-6)
    for name, (class_name, result) in loaded["per_folder"].items():
        assert class_name == "ZeroShotVideoClassificationPipeline", name
        assert [e["label"] for e in result] == [e["label"] for e in expected_per_folder[name]], name
        assert [e["score"] for e in result] == pytest.approx([e["score"] for e in expected_per_folder[name]], abs=1e-6)
    assert sorted(loaded["classifier_labels"]) == sorted(folders.class_names)
