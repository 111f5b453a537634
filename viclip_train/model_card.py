# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""Hub model cards for ViCLIP checkpoints, written through `huggingface_hub.ModelCard` / `ModelCardData`.

One builder, [`build_model_card`], serves every producer of a checkpoint folder: the converter of the released
weights (zero-shot results), the pretraining script (retrieval recall) and the classification fine-tuning script
(top-1 / top-5). Evaluation numbers go into the card's `model-index` metadata as `huggingface_hub.EvalResult`s, built
with [`classification_eval_results`] or [`retrieval_eval_results`], and are also rendered as a table in the card body.
"""

from collections.abc import Mapping, Sequence
from pathlib import Path

from huggingface_hub import EvalResult, ModelCard, ModelCardData


INTERNVID_PAPER_URL = "https://arxiv.org/abs/2307.06942"
INTERNVID_CODE_URL = "https://github.com/OpenGVLab/InternVideo/tree/main/Data/InternVid"
INTERNVID_DATASET_ID = "OpenGVLab/InternVid"
RELEASED_WEIGHTS_REPO_ID = "OpenGVLab/ViCLIP"
# The licence declared in the metadata of the Hub repository that distributes the original weights.
RELEASED_WEIGHTS_LICENSE = "mit"
RELEASED_WEIGHTS_LICENSE_NOTE = (
    f"The original weights are distributed by [{RELEASED_WEIGHTS_REPO_ID}](https://huggingface.co/"
    f"{RELEASED_WEIGHTS_REPO_ID}) under the MIT licence (as declared in that repository's metadata), behind a gate "
    "whose terms ask users not to use the model for experiments that harm human subjects; those terms carry over to "
    "this conversion. The training videos come from YouTube through the InternVid dataset: see the "
    f"[dataset card](https://huggingface.co/datasets/{INTERNVID_DATASET_ID}) for the terms of the data."
)

INTERNVID_CITATION = """@inproceedings{wang2024internvid,
  title     = {InternVid: A Large-scale Video-Text Dataset for Multimodal Understanding and Generation},
  author    = {Wang, Yi and He, Yinan and Li, Yizhuo and Li, Kunchang and Yu, Jiashuo and Ma, Xin and Li, Xinhao and
               Chen, Guo and Chen, Xinyuan and Wang, Yaohui and Luo, Ping and Liu, Ziwei and Wang, Yali and
               Wang, Limin and Qiao, Yu},
  booktitle = {The Twelfth International Conference on Learning Representations (ICLR)},
  year      = {2024},
  url       = {https://arxiv.org/abs/2307.06942}
}"""

# The Hub's task list (huggingface.js `PIPELINE_DATA`) has no zero-shot *video* classification task. These are the
# tags a ViCLIP checkpoint can carry and the reason written into its card.
DUAL_ENCODER_PIPELINE_TAG = "video-classification"
DUAL_ENCODER_PIPELINE_TAG_REASON = (
    "The Hub's task list has no *zero-shot video classification* task, and a `pipeline_tag` outside that list "
    "is not a valid value for the Hub. `video-classification` is the closest task the Hub knows: it files "
    "this video-text dual encoder under Video Classification next to other video CLIPs, it is the task the "
    "published numbers below measure (zero-shot Kinetics), and it matches the `model-index` task so the "
    "results appear on the model page. `zero-shot-image-classification` would offer an image widget (the "
    "wrong input) and `feature-extraction` is filed as a text task. The hosted widget of "
    "`video-classification` expects a fixed label set, which a dual encoder does not have: classify with "
    "your own labels locally, with the code above or with "
    '`pipeline("zero-shot-video-classification", model=..., trust_remote_code=True)`, which this library '
    "registers."
)
CLASSIFIER_PIPELINE_TAG = "video-classification"
CLASSIFIER_PIPELINE_TAG_REASON = (
    "A fine-tuned classifier with a fixed label set: exactly the Hub's `video-classification` task, whose widget "
    "takes a video and returns the top labels."
)

BASE_TAGS = ("viclip", "video", "video-text", "clip")


def dual_encoder_usage(model_id: str) -> str:
    """The five lines that embed a video file and captions with a ViCLIP dual encoder loaded from `model_id`."""
    return (
        "from transformers import AutoModel, AutoProcessor\n"
        f'processor = AutoProcessor.from_pretrained("{model_id}", trust_remote_code=True)\n'
        f'model = AutoModel.from_pretrained("{model_id}", trust_remote_code=True)\n'
        'inputs = processor(text=["a dog catching a frisbee", "a man playing the guitar"], videos=["video.mp4"], '
        'return_tensors="pt")\n'
        "probs = model(**inputs).logits_per_video.softmax(dim=-1)  # [videos, captions]; embeddings: .video_embeds, "
        ".text_embeds"
    )


def video_classifier_usage(model_id: str) -> str:
    """The lines that classify a video file with a fine-tuned ViCLIP classifier loaded from `model_id`."""
    return (
        "from transformers import pipeline\n"
        f'classifier = pipeline("video-classification", model="{model_id}", trust_remote_code=True)\n'
        'print(classifier("video.mp4", top_k=5))'
    )


def classification_eval_results(
    *,
    dataset_type: str,
    dataset_name: str,
    top1: float,
    top5: float | None = None,
    top1_top5_mean: float | None = None,
    task_name: str = "Video Classification",
    dataset_split: str | None = "validation",
    source_name: str | None = None,
    source_url: str | None = None,
) -> list[EvalResult]:
    """
    Results of one video classification benchmark, in percent, as `EvalResult`s of task `video-classification`.

    `top1_top5_mean` is the "AVG" of the InternVid results tables (the mean of top-1 and top-5 accuracy); give it
    when a paper publishes it instead of top-5. `source_name` / `source_url` say where a published number comes from.
    """
    metrics = [("accuracy", "Top-1 Accuracy", top1)]
    if top5 is not None:
        metrics.append(("top_5_accuracy", "Top-5 Accuracy", top5))
    if top1_top5_mean is not None:
        metrics.append(("mean_top1_top5_accuracy", "Mean of Top-1 and Top-5 Accuracy", top1_top5_mean))
    return [
        EvalResult(
            task_type="video-classification",
            task_name=task_name,
            dataset_type=dataset_type,
            dataset_name=dataset_name,
            dataset_split=dataset_split,
            metric_type=metric_type,
            metric_name=metric_name,
            metric_value=value,
            source_name=source_name,
            source_url=source_url,
        )
        for metric_type, metric_name, value in metrics
    ]


def retrieval_eval_results(
    *,
    dataset_type: str,
    dataset_name: str,
    recalls: Mapping[str, Mapping[int, float]],
    task_name: str = "Video-Text Retrieval",
    dataset_split: str | None = "test",
    source_name: str | None = None,
    source_url: str | None = None,
) -> list[EvalResult]:
    """
    Recall@k of one retrieval benchmark, in percent, e.g.
    `recalls={"text-to-video": {1: 42.4, 5: 67.6, 10: 76.2}, "video-to-text": {...}}`.

    Each direction becomes the metric config of `recall@k` results of task `video-text-retrieval`.
    """
    return [
        EvalResult(
            task_type="video-text-retrieval",
            task_name=task_name,
            dataset_type=dataset_type,
            dataset_name=dataset_name,
            dataset_split=dataset_split,
            metric_type=f"recall@{k}",
            metric_name=f"{direction} R@{k}",
            metric_config=direction,
            metric_value=value,
            source_name=source_name,
            source_url=source_url,
        )
        for direction, by_k in recalls.items()
        for k, value in sorted(by_k.items())
    ]


def hub_repo_id(name_or_path: str | None) -> str | None:
    """`name_or_path` when it names a Hub repository rather than a local folder, else `None`: a card's `base_model`
    must be a Hub id."""
    return name_or_path if name_or_path and not Path(name_or_path).exists() else None


def _results_table(eval_results: Sequence[EvalResult]) -> str:
    rows = ["| Task | Dataset | Split | Metric | Value | Source |", "|---|---|---|---|---|---|"]
    for result in eval_results:
        source = f"[{result.source_name}]({result.source_url})" if result.source_name else ""
        rows.append(
            f"| {result.task_name or result.task_type} | {result.dataset_name} | {result.dataset_split or ''} | "
            f"{result.metric_name or result.metric_type} | {result.metric_value} | {source} |"
        )
    return "\n".join(rows)


def build_model_card(
    *,
    model_name: str,
    summary: str,
    pipeline_tag: str,
    pipeline_tag_reason: str,
    usage: str,
    license: str = RELEASED_WEIGHTS_LICENSE,
    license_note: str = RELEASED_WEIGHTS_LICENSE_NOTE,
    datasets: Sequence[str] = (INTERNVID_DATASET_ID,),
    tags: Sequence[str] = (),
    base_model: str | list[str] | None = None,
    eval_results: list[EvalResult] | None = None,
    eval_notes: str | None = None,
    sections: Mapping[str, str] | None = None,
    citation: str = INTERNVID_CITATION,
) -> ModelCard:
    """
    Builds the Hub model card of a ViCLIP checkpoint folder.

    Args:
        model_name: title of the card, and the model name of its `model-index`.
        summary: the opening paragraph(s): what the checkpoint is and where it comes from.
        pipeline_tag: a task from the Hub's task list; `pipeline_tag_reason` says in the card why it was chosen.
        usage: Python lines showing how to use the checkpoint (e.g. [`dual_encoder_usage`]).
        license: a Hub licence id of the *weights*; `license_note` explains it in the card body.
        datasets: Hub dataset ids the weights were trained on (empty when they are not on the Hub).
        tags: extra tags, added to `BASE_TAGS`.
        base_model: Hub id(s) of the model these weights were fine-tuned from, if any.
        eval_results: results for the `model-index` (see [`classification_eval_results`] and
            [`retrieval_eval_results`]); also rendered as a table, followed by `eval_notes`.
        sections: further `## heading -> markdown` sections, placed before the evaluation.
        citation: BibTeX of the work to cite.

    Returns:
        A `huggingface_hub.ModelCard`; `card.save(folder / "README.md")` writes it.
    """
    metrics = list(dict.fromkeys(result.metric_type for result in eval_results)) if eval_results else None
    card_data = ModelCardData(
        model_name=model_name,
        library_name="transformers",
        pipeline_tag=pipeline_tag,
        license=license,
        datasets=list(datasets) or None,
        tags=list(dict.fromkeys([*BASE_TAGS, *tags])),
        base_model=base_model,
        metrics=metrics,
        eval_results=eval_results or None,
    )
    body = [f"# {model_name}", summary.strip(), "## Usage", f"```python\n{usage.strip()}\n```"]
    body += [f"## Task: `{pipeline_tag}`", pipeline_tag_reason.strip()]
    for heading, text in (sections or {}).items():
        body += [f"## {heading}", text.strip()]
    if eval_results:
        body += ["## Evaluation", _results_table(eval_results)]
        if eval_notes:
            body.append(eval_notes.strip())
    body += [
        "## License",
        f"`{license}`. {license_note.strip()}",
        "## Citation",
        f"```bibtex\n{citation.strip()}\n```",
    ]
    return ModelCard(f"---\n{card_data.to_yaml()}\n---\n\n" + "\n\n".join(body) + "\n")


def save_model_card(card: ModelCard, folder: str | Path) -> Path:
    """Writes `card` as `folder/README.md` and returns that path."""
    path = Path(folder) / "README.md"
    card.save(path)
    return path


__all__ = [
    "BASE_TAGS",
    "CLASSIFIER_PIPELINE_TAG",
    "CLASSIFIER_PIPELINE_TAG_REASON",
    "DUAL_ENCODER_PIPELINE_TAG",
    "DUAL_ENCODER_PIPELINE_TAG_REASON",
    "INTERNVID_CITATION",
    "INTERNVID_DATASET_ID",
    "RELEASED_WEIGHTS_LICENSE",
    "build_model_card",
    "classification_eval_results",
    "dual_encoder_usage",
    "hub_repo_id",
    "retrieval_eval_results",
    "save_model_card",
    "video_classifier_usage",
]
