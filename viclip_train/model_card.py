# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""Hub model cards for ViCLIP checkpoints, written through `huggingface_hub.ModelCard` / `ModelCardData`.

One builder, [`build_model_card`], serves every producer of a checkpoint folder: the converter of the released
weights ([`build_converted_model_card`], with the published zero-shot results), the pretraining script (retrieval
recall) and the classification fine-tuning script (top-1 / top-5). Evaluation numbers go into the card's
`model-index` metadata as `huggingface_hub.EvalResult`s, built with [`classification_eval_results`] or
[`retrieval_eval_results`] (rounded to two decimals), and are also rendered as a table in the card body.

What every card says, and the rules the tests check on every card the project writes:

- `pipeline_tag` names a task whose pipeline gives meaningful output on the folder: `video-classification` for a
  fine-tuned classifier; none for a dual encoder, since the Hub's task list has no zero-shot video classification task
  and `video-classification` would attach an untrained head. The card then says how to classify (the
  `zero-shot-video-classification` pipeline, whose code ships in every saved ViCLIP dual-encoder folder).
- Usage code names the Hub repository, or the placeholder [`PLACEHOLDER_NAMESPACE`]`/<name>` when the repository is
  not known yet; never a local path.
- The licence: the released weights' licence for converted checkpoints; for trained weights the trainer's choice,
  else the licence declared by the card of the checkpoint training started from (a local folder, or a Hub repository
  when its card can be read), else none, and the card says it is unknown ([`trained_weights_license`]).
"""

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from viclip.configuration_viclip import ViCLIPConfig
from viclip_train.convert.original_weights import SIZE_TITLES


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

# The namespace written into usage code when the Hub repository of a folder is not known yet.
PLACEHOLDER_NAMESPACE = "your-username"
CLASSIFIER_PIPELINE_TAG = "video-classification"
BASE_TAGS = ("viclip", "video", "video-text", "clip")
# Decimals kept for evaluation numbers, in the metadata and in the table.
RESULT_DECIMALS = 2

# Training sets of the released checkpoints; the file names of the release say which one a file was trained on.
TRAINING_DATA = (
    "InternVid-10M-FLT",
    "InternVid-10M-DIV",
    "InternVid-10M",
    "InternVid-50M",
    "InternVid-200M",
    "WebVid-10M",
)
_TRAINING_DATA_NAME_HINTS = (  # checked in order: the first hint found in the lower-cased file name wins
    ("webvid", "WebVid-10M"),
    ("flt", "InternVid-10M-FLT"),
    ("div", "InternVid-10M-DIV"),
    ("200m", "InternVid-200M"),
    ("50m", "InternVid-50M"),
    ("10m", "InternVid-10M"),
)


# A Hub repository id: `name` or `namespace/name`, of letters, digits, `-`, `_` and `.`, not starting with `.`.
_HUB_ID = re.compile(r"[\w-][\w.-]*(/[\w-][\w.-]*)?")


def usage_model_id(hub_model_id: str | None, output_dir: str | Path) -> str:
    """
    The repository id to write into a card's usage code: `hub_model_id` when it names a namespace (`user/name`),
    else `your-username/<name>` with the name of `hub_model_id` or of the output folder. Never a local path.
    """
    if hub_model_id and "/" in hub_model_id:
        return hub_model_id
    return f"{PLACEHOLDER_NAMESPACE}/{hub_model_id or Path(output_dir).resolve().name}"


def hub_repo_id(name_or_path: str | None) -> str | None:
    """`name_or_path` when it names a Hub repository (`name` or `namespace/name`, not a local file or folder), else
    `None`: a card's `base_model` and `datasets` must be Hub ids."""
    if not name_or_path or Path(name_or_path).exists() or not _HUB_ID.fullmatch(name_or_path):
        return None
    return name_or_path


def display_name(name_or_path: str) -> str:
    """How a card names a starting checkpoint or a data file: a Hub id as it is, a local path by its last part only
    (the card is published; the trainer's file system is not)."""
    if hub_repo_id(name_or_path):
        return f"`{name_or_path}`"
    path = Path(name_or_path).resolve()
    return f"the local {'folder' if path.is_dir() else 'file'} `{path.name}`"


def card_license(folder: str | Path) -> str | None:
    """The `license` declared in the metadata of `folder/README.md`, if the folder has a card that declares one."""
    path = Path(folder) / "README.md"
    if not path.is_file():
        return None
    return ModelCard.load(path).data.license


def hub_card_license(repo_id: str) -> str | None:
    """The `license` declared by the card of the Hub repository `repo_id` (from the local cache when offline), or
    `None` when it declares none or cannot be read (offline and not cached, no access, no card)."""
    import huggingface_hub

    try:
        return card_license(Path(huggingface_hub.hf_hub_download(repo_id, "README.md")).parent)
    except Exception:  # offline, gated, missing or unparsable: the licence stays unknown, and the card says so
        return None


def trained_weights_license(chosen: str | None, start: str | None) -> tuple[str | None, str]:
    """
    The licence of trained weights and the card's sentence about it.

    Args:
        chosen: the licence the trainer gave (`--card_license`), if any; it wins.
        start: the checkpoint training started from (local folder or Hub id), or `None` for random weights. Its card
            is read: a local folder's, or a Hub repository's ([`hub_card_license`]; if unreadable, the licence is
            unknown and the note says where to look).

    Returns:
        `(license id or None, note)`. `None` means unknown: the metadata then has no `license` and the note says why.
    """
    how_to_set = "`--card_license` records a licence."
    if chosen:
        return chosen, "Chosen by whoever trained these weights (`--card_license`)."
    if start is None:
        return None, (
            f"Not declared: these weights were trained from random initialisation, so they inherit no licence, and "
            f"the trainer chose none. The terms of the training data apply. {how_to_set}"
        )
    if hub_repo_id(start) and (inherited := hub_card_license(start)):
        return inherited, (
            f"Inherited from the Hub checkpoint training started from (`{start}`), whose card declares it; "
            "`--card_license` chooses another."
        )
    if hub_repo_id(start):
        return None, (
            f"Not declared: training started from the Hub checkpoint `{start}`, whose licence (see its card) applies "
            f"to these weights too. {how_to_set}"
        )
    inherited = card_license(start)
    if inherited:
        return inherited, (
            f"Inherited from the checkpoint training started from ({display_name(start)}), whose card declares it; "
            "`--card_license` chooses another."
        )
    return None, (
        f"Unknown: training started from {display_name(start)}, whose card declares no licence; the licence of "
        f"those weights applies to these too. {how_to_set}"
    )


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


def zero_shot_classification_usage(model_id: str) -> str:
    """The lines that classify a video file against free-text labels with the zero-shot pipeline."""
    return (
        "from transformers import pipeline\n"
        f'classifier = pipeline("zero-shot-video-classification", model="{model_id}", trust_remote_code=True)\n'
        'labels = ["playing guitar", "surfing"]\n'
        'print(classifier("video.mp4", candidate_labels=labels, hypothesis_template="kinetics"))'
    )


def video_classifier_usage(model_id: str) -> str:
    """The lines that classify a video file with a fine-tuned ViCLIP classifier loaded from `model_id`."""
    return (
        "from transformers import pipeline\n"
        f'classifier = pipeline("video-classification", model="{model_id}", trust_remote_code=True)\n'
        'print(classifier("video.mp4", top_k=5))'
    )


def dual_encoder_classification_section(model_id: str) -> str:
    """The card section of a dual encoder that explains its missing `pipeline_tag` and shows how to classify."""
    return (
        "This card names no `pipeline_tag`. The Hub's task list has no zero-shot video classification task, and its "
        "`video-classification` task would load this video-text dual encoder with a new, untrained classification "
        "head, whose labels mean nothing. Classify videos against labels of your choice with the "
        "`zero-shot-video-classification` pipeline, whose code ships in this repository:\n\n"
        f"```python\n{zero_shot_classification_usage(model_id)}\n```\n\n"
        '`hypothesis_template="kinetics"` averages the similarities over the 16 prompt templates of the reference\'s '
        'zero-shot Kinetics evaluation; the default is `"A video of {}"`. With this project\'s `viclip` package '
        "installed, `import viclip` registers the pipeline and `trust_remote_code=True` can be left out."
    )


def classifier_classification_section() -> str:
    """The card section of a fine-tuned classifier: its `pipeline_tag` and what that pipeline returns."""
    return (
        f"`pipeline_tag: {CLASSIFIER_PIPELINE_TAG}`: this is a fine-tuned classifier with a fixed label set (see "
        "*Classes*), so the `video-classification` pipeline (the usage above) returns its labels ranked by "
        "probability."
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
    Results of one video classification benchmark, in percent rounded to two decimals, as `EvalResult`s of task
    `video-classification`.

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
            metric_value=round(float(value), RESULT_DECIMALS),
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
    Recall@k of one retrieval benchmark, in percent rounded to two decimals, e.g.
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
            metric_value=round(float(value), RESULT_DECIMALS),
            source_name=source_name,
            source_url=source_url,
        )
        for direction, by_k in recalls.items()
        for k, value in sorted(by_k.items())
    ]


def _results_table(eval_results: Sequence[EvalResult]) -> str:
    rows = ["| Task | Dataset | Split | Metric | Value | Source |", "|---|---|---|---|---|---|"]
    for result in eval_results:
        source = f"[{result.source_name}]({result.source_url})" if result.source_name else ""
        rows.append(
            f"| {result.task_name or result.task_type} | {result.dataset_name} | {result.dataset_split or ''} | "
            f"{result.metric_name or result.metric_type} | {result.metric_value:.{RESULT_DECIMALS}f} | {source} |"
        )
    return "\n".join(rows)


def build_model_card(
    *,
    model_name: str,
    summary: str,
    usage: str,
    classification: str,
    pipeline_tag: str | None = None,
    license: str | None = RELEASED_WEIGHTS_LICENSE,
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
        usage: Python lines showing how to use the checkpoint (e.g. [`dual_encoder_usage`]); they name the Hub
            repository (or a placeholder), never a local path.
        classification: the *Classifying videos* section: how to classify with this checkpoint and why the card
            has (or has not) a `pipeline_tag` ([`dual_encoder_classification_section`],
            [`classifier_classification_section`]).
        pipeline_tag: a task from the Hub's task list whose pipeline gives meaningful output on this folder, or
            `None` when no task fits.
        license: a Hub licence id of the *weights*, or `None` when unknown; `license_note` explains it in the body.
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
    body += ["## Classifying videos", classification.strip()]
    for heading, text in (sections or {}).items():
        body += [f"## {heading}", text.strip()]
    if eval_results:
        body += ["## Evaluation", _results_table(eval_results)]
        notes = "These results are also in the card's `model-index` metadata."
        body.append(f"{eval_notes.strip()} {notes}" if eval_notes else notes)
    body += ["## License", f"`{license}`. {license_note.strip()}" if license else license_note.strip()]
    body += ["## Citation", f"```bibtex\n{citation.strip()}\n```"]
    return ModelCard(f"---\n{card_data.to_yaml()}\n---\n\n" + "\n\n".join(body) + "\n")


def save_model_card(card: ModelCard, folder: str | Path) -> Path:
    """Writes `card` as `folder/README.md` and returns that path."""
    path = Path(folder) / "README.md"
    card.save(path)
    return path


# ------------------------------------------------------------------------------------------------------------------
# Converted checkpoints of the original release
# ------------------------------------------------------------------------------------------------------------------

# Published zero-shot results (InternVid paper, Kinetics-400/600/700 zero-shot action recognition), by (size,
# training data): the only released checkpoint with published numbers is ViCLIP-L/14 trained on InternVid-10M-FLT.
# The fine-tuned numbers of the paper (K400, SSv2) belong to fine-tuned weights that were not released, so they are
# not claimed for any converted checkpoint.
_PAPER = {"source_name": "InternVid (Wang et al., ICLR 2024)", "source_url": INTERNVID_PAPER_URL}
PUBLISHED_RESULTS = {
    ("viclip-l14", "InternVid-10M-FLT"): [
        *classification_eval_results(
            dataset_type="kinetics-400",
            dataset_name="Kinetics-400",
            top1=64.80,
            top1_top5_mean=75.70,
            task_name="Zero-Shot Video Classification",
            **_PAPER,
        ),
        *classification_eval_results(
            dataset_type="kinetics-600",
            dataset_name="Kinetics-600",
            top1=62.20,
            top1_top5_mean=73.53,
            task_name="Zero-Shot Video Classification",
            **_PAPER,
        ),
        *classification_eval_results(
            dataset_type="kinetics-700",
            dataset_name="Kinetics-700",
            top1=54.30,
            top1_top5_mean=66.38,
            task_name="Zero-Shot Video Classification",
            **_PAPER,
        ),
    ]
}
ZERO_SHOT_PROTOCOL = (
    "Zero-shot protocol of the paper: 8 frames sampled at the middle of 8 equal segments, one view, every frame "
    "resized to 224x224; each class name is put into 16 prompt templates and the similarities are averaged over the "
    "templates. *Mean of Top-1 and Top-5* is the paper's AVG column. The paper's fine-tuned results (Kinetics-400, "
    "Something-Something V2) come from fine-tuned weights that were not released, so they are not listed here."
)


def guess_training_data(checkpoint_path: str | Path) -> str | None:
    """The training set named by a released checkpoint's file name (e.g. `ViClip-InternVid-10M-FLT.pth`), if any."""
    name = Path(checkpoint_path).name.lower()
    return next((data for hint, data in _TRAINING_DATA_NAME_HINTS if hint in name), None)


def build_converted_model_card(
    checkpoint_path: str | Path,
    config: ViCLIPConfig,
    preset: str | None,
    training_data: str | None,
    model_id: str,
) -> ModelCard:
    """
    The model card of a converted checkpoint: provenance, usage, how to classify, the published results that apply
    to it (only those), and the released weights' licence.

    Args:
        checkpoint_path: the original `.pth` file (only its name is written).
        config: the converted model's configuration.
        preset: `"viclip-b16"`, `"viclip-l14"`, or `None` for another size.
        training_data: one of [`TRAINING_DATA`], or `None` when unknown.
        model_id: the Hub repository the folder is published to (or [`usage_model_id`]'s placeholder).
    """
    title = SIZE_TITLES.get(preset, "ViCLIP (custom size)")
    model_name = f"{title} ({training_data})" if training_data else title
    eval_results = PUBLISHED_RESULTS.get((preset, training_data))
    vision, text = config.vision_config, config.text_config
    summary = (
        f"ViCLIP, the video-text CLIP of *InternVid* ([paper]({INTERNVID_PAPER_URL})), as a native `transformers` "
        f"model. This folder was converted from the original checkpoint `{Path(checkpoint_path).name}` "
        f"(released by OpenGVLab, see [{RELEASED_WEIGHTS_REPO_ID}](https://huggingface.co/{RELEASED_WEIGHTS_REPO_ID}))"
        " with `python -m viclip_train.convert`, whose output is tested against the original "
        "code's embeddings (equal within 1e-5 in fp32).\n\n"
        f"- Video tower: a ViT whose patches of all frames attend to each other; {vision.num_hidden_layers} layers, "
        f"width {vision.hidden_size}, {vision.num_attention_heads} heads, patch {vision.patch_size}, "
        f"{vision.num_frames} frames of {vision.image_size}x{vision.image_size}.\n"
        f"- Text tower: the CLIP text transformer; {text.num_hidden_layers} layers, width {text.hidden_size}, "
        f"{text.num_attention_heads} heads, {text.max_position_embeddings}-token context.\n"
        f"- Shared embedding space of size {config.projection_dim}.\n"
        f"- Training data: {training_data or 'not recorded in the checkpoint file name'}."
    )
    return build_model_card(
        model_name=model_name,
        summary=summary,
        usage=dual_encoder_usage(model_id),
        classification=dual_encoder_classification_section(model_id),
        datasets=[INTERNVID_DATASET_ID] if training_data and training_data.startswith("InternVid") else [],
        tags=["zero-shot-video-classification", "video-text-retrieval", "internvid"],
        eval_results=eval_results,
        eval_notes=ZERO_SHOT_PROTOCOL if eval_results else None,
    )


__all__ = [
    "BASE_TAGS",
    "CLASSIFIER_PIPELINE_TAG",
    "INTERNVID_CITATION",
    "INTERNVID_DATASET_ID",
    "PLACEHOLDER_NAMESPACE",
    "PUBLISHED_RESULTS",
    "RELEASED_WEIGHTS_LICENSE",
    "TRAINING_DATA",
    "build_converted_model_card",
    "build_model_card",
    "card_license",
    "classification_eval_results",
    "classifier_classification_section",
    "display_name",
    "dual_encoder_classification_section",
    "dual_encoder_usage",
    "guess_training_data",
    "hub_repo_id",
    "retrieval_eval_results",
    "save_model_card",
    "hub_card_license",
    "trained_weights_license",
    "usage_model_id",
    "video_classifier_usage",
    "zero_shot_classification_usage",
]
