# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""The `zero-shot-video-classification` pipeline: score a video against free-text labels with [`ViCLIPModel`].

Two doors open it on a saved `ViCLIPModel` folder, without an interactive prompt:

- `import viclip`, then `pipeline("zero-shot-video-classification", model=folder)`: the package registers the task
  with transformers' `PIPELINE_REGISTRY`, and the folder's own copy of this file is not used.
- `pipeline("zero-shot-video-classification", model=folder, trust_remote_code=True)` in an environment without the
  package: every saved `ViCLIPModel` folder carries this file and names it in its `config.json` (`custom_pipelines`,
  written by [`zero_shot_custom_pipelines`]).

[`embed_videos`] and [`embed_texts`] are the one home of "L2-normalised embeddings of these videos / these captions"
and [`embed_label_prompts`] of the label-set embedding (the mean of each label's normalised prompt embeddings, not
normalised again): the pipeline, and the
training library's zero-shot evaluation, retrieval benchmarks and moment search, all call them.
This file ships as Hub remote code: it imports only torch, transformers and its sibling files.
"""

import string
from typing import Any

import torch
from transformers.pipelines.base import Pipeline
from transformers.utils.generic import is_tensor as _is_array
from transformers.video_utils import is_valid_video as _is_frame_list


ZERO_SHOT_TASK = "zero-shot-video-classification"
# The 16 prompt templates with which the reference evaluates zero-shot action recognition on Kinetics-400/600/700,
# in the reference's order; the similarities of a video with the 16 prompts of a class are averaged.
KINETICS_TEMPLATES = (
    "a photo of action {}",
    "a picture of action {}",
    "Human action of {}",
    "{}, an action",
    "{} this is an action",
    "{}, a video of action",
    "Playing action of {}",
    "{}",
    "Playing a kind of action, {}",
    "Doing a kind of action, {}",
    "Look, the human is {}",
    "Can you recognize the action of {}?",
    "Video classification of {}",
    "A video of {}",
    "The man is {}",
    "The woman is {}",
)
NAMED_TEMPLATES = {"kinetics": KINETICS_TEMPLATES}
DEFAULT_TEMPLATE = "A video of {}"
# Captions per text-tower forward.
TEXT_BATCH_SIZE = 256


@torch.no_grad()
def embed_videos(model: Any, pixel_values: torch.Tensor, *, interpolate_pos_encoding: bool = False) -> torch.Tensor:
    """
    The L2-normalised projected video embeddings of one batch, `[batch, projection_dim]` (fp32, on the model's device):
    the cosine similarity of two of them is their product.

    Args:
        model: a [`ViCLIPModel`] (anything with `get_video_features`).
        pixel_values (`torch.Tensor` of shape `[batch, frames, 3, H, W]`): moved to the model's device and dtype.
        interpolate_pos_encoding (`bool`, defaults to `False`): resample the position tables for a frame count or
            frame size other than the model's.
    """
    parameter = next(model.parameters())
    features = model.get_video_features(
        pixel_values=pixel_values.to(device=parameter.device, dtype=parameter.dtype, non_blocking=True),
        interpolate_pos_encoding=interpolate_pos_encoding,
    ).pooler_output
    return torch.nn.functional.normalize(features.float(), dim=-1)


@torch.no_grad()
def embed_texts(
    model: Any, processor: Any, texts: list[str], *, batch_size: int = TEXT_BATCH_SIZE, **text_kwargs: Any
) -> torch.Tensor:
    """
    The L2-normalised projected text embeddings of `texts`, `[len(texts), projection_dim]` (fp32, on the model's
    device), `batch_size` captions per text-tower forward: each caption cleaned, tokenised and cut to the model's
    context by `processor` (with `text_kwargs`, e.g. `normalize_captions=True` for the reference's evaluation
    normalisation).

    Args:
        model: a [`ViCLIPModel`] (anything with `get_text_features`).
        processor: its [`ViCLIPProcessor`].
        texts (`list[str]`): the captions.
        batch_size (`int`, defaults to 256): captions per forward.
    """
    device = next(model.parameters()).device
    embeds = []
    for start in range(0, len(texts), batch_size):
        tokens = processor(text=list(texts[start : start + batch_size]), return_tensors="pt", **text_kwargs)
        features = model.get_text_features(
            input_ids=tokens["input_ids"].to(device), attention_mask=tokens["attention_mask"].to(device)
        ).pooler_output
        embeds.append(torch.nn.functional.normalize(features.float(), dim=-1))
    return torch.cat(embeds)


def resolve_templates(hypothesis_template: str | list[str] | tuple[str, ...]) -> list[str]:
    """A template (`"A video of {}"`), a list of templates, or a name (`"kinetics"`) as a list of templates."""
    if isinstance(hypothesis_template, str):
        templates = list(NAMED_TEMPLATES.get(hypothesis_template, (hypothesis_template,)))
    else:
        templates = list(hypothesis_template)
    if not templates:
        raise ValueError("hypothesis_template is empty; give a template with '{}', a list of them, or 'kinetics'.")
    for template in templates:
        try:  # the replacement fields of the template: one `{}`, where the label goes
            fields = [field for _, field, _, _ in string.Formatter().parse(template) if field is not None]
        except (TypeError, ValueError, AttributeError):  # not a string, or a brace that does not close
            fields = None
        if fields != [""]:
            found = "" if fields is None else f" (its fields: {['{' + f + '}' for f in fields] or 'none'})"
            raise ValueError(
                f"Each hypothesis template must be a string with exactly one '{{}}', where the label goes, got "
                f"{template!r}{found}; write a literal brace as '{{{{' or '}}}}'. Named template sets: "
                f"{sorted(NAMED_TEMPLATES)}."
            )
    return templates


def embed_label_prompts(
    model: Any,
    processor: Any,
    labels: list[str],
    hypothesis_template: str | list[str] | tuple[str, ...] = DEFAULT_TEMPLATE,
    batch_size: int = TEXT_BATCH_SIZE,
) -> torch.Tensor:
    """
    The class embeddings of zero-shot classification: for each label, the mean over the templates of the
    L2-normalised text embeddings of the label written into each template, `[num_labels, projection_dim]` (fp32, on
    the model's device). Its product with an L2-normalised video embedding is the video's mean cosine similarity with
    the label's prompts, the reference's zero-shot score before the logit scale. The mean is not normalised again:
    a row has norm 1 with one template and less with several (about 0.9 with [`KINETICS_TEMPLATES`]); normalise it
    yourself to compare labels by cosine similarity.

    Args:
        model: a [`ViCLIPModel`] (anything with `get_text_features`).
        processor: its [`ViCLIPProcessor`], which tokenises the prompts.
        labels: the class names (or the text to write for each class).
        hypothesis_template: a template with `{}` for the label, a list of them, or `"kinetics"` for
            [`KINETICS_TEMPLATES`].
        batch_size: prompts per text-tower forward.
    """
    templates = resolve_templates(hypothesis_template)
    captions = [template.format(label) for label in labels for template in templates]
    embeds = embed_texts(model, processor, captions, batch_size=batch_size)
    return embeds.view(len(labels), len(templates), -1).mean(dim=1)


def zero_shot_custom_pipelines() -> dict[str, dict[str, Any]]:
    """
    The `custom_pipelines` entry of a saved `ViCLIPModel`'s `config.json`: the pipeline class in this file (which is
    saved beside it), the Auto class that loads its model, and the task type, as `Pipeline.save_pretrained` writes
    them. With it, `pipeline(ZERO_SHOT_TASK, model=folder, trust_remote_code=True)` runs without this package.
    """
    return {
        ZERO_SHOT_TASK: {
            "impl": f"{__name__.rsplit('.', 1)[-1]}.ZeroShotVideoClassificationPipeline",
            "pt": ["AutoModel"],
            "type": "multimodal",
        }
    }


class ZeroShotVideoClassificationPipeline(Pipeline):
    """
    Zero-shot video classification with [`ViCLIPModel`]: the probability of each candidate label for a video, from
    the cosine similarity of the video embedding with the label's text embeddings.

    Each label is written into every hypothesis template; as in the reference's zero-shot evaluation, the cosine
    similarities of a video with a label's templates are averaged. The label set is embedded once per call, however
    many videos are scored. Scores are `softmax(exp(logit_scale) * similarity)` over the labels, sorted, summing to 1.

    Example:

    ```python
    >>> import viclip  # registers the task
    >>> from transformers import pipeline
    >>> classifier = pipeline("zero-shot-video-classification", model="your-username/your-viclip")  # doctest: +SKIP
    >>> labels = ["playing guitar", "surfing"]
    >>> classifier("video.mp4", candidate_labels=labels, hypothesis_template="kinetics")  # doctest: +SKIP
    [{'score': 0.97, 'label': 'playing guitar'}, {'score': 0.03, 'label': 'surfing'}]
    ```
    """

    _load_processor = True
    _load_image_processor = False
    _load_video_processor = False
    _load_feature_extractor = False
    _load_tokenizer = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.processor is None:
            raise ValueError(
                "The zero-shot-video-classification pipeline needs the model's ViCLIPProcessor (pass `processor=`)."
            )
        if not hasattr(self.model, "get_text_features") or not hasattr(self.model, "get_video_features"):
            raise ValueError(
                f"{ZERO_SHOT_TASK} needs a dual encoder such as ViCLIPModel, got {type(self.model).__name__}; for a "
                "classifier with fixed labels use the 'video-classification' task."
            )
        saved_as = getattr(self.model.config, "architectures", None) or []
        if saved_as and type(self.model).__name__ not in saved_as:
            # `AutoModel` builds a ViCLIPModel from a fine-tuned classifier's folder, its text tower left random
            raise ValueError(
                f"{self.model.name_or_path or 'This checkpoint'} holds a {' / '.join(saved_as)}, not a "
                f"{type(self.model).__name__}: loaded as one, its text tower would be random, so it cannot score "
                'free-text labels. A fine-tuned classifier runs in pipeline("video-classification", model=...); for '
                f"{ZERO_SHOT_TASK}, use the ViCLIPModel it was fine-tuned from."
            )

    def __call__(
        self,
        videos: Any,
        candidate_labels: list[str] | None = None,
        hypothesis_template: str | list[str] = DEFAULT_TEMPLATE,
        **kwargs: Any,
    ) -> list[dict[str, Any]] | list[list[dict[str, Any]]]:
        """
        Scores `videos` against `candidate_labels`.

        Args:
            videos: one video (a file path, an array `[T, H, W, C]`, or a list of frames) or a list of videos.
            candidate_labels (`list[str]`): the labels.
            hypothesis_template (`str` or `list[str]`, defaults to `"A video of {}"`): template(s) with `{}` for the
                label, or `"kinetics"` for the reference's 16 Kinetics templates ([`KINETICS_TEMPLATES`]).

        Returns:
            For one video, a list of `{"score": float, "label": str}` sorted by decreasing score; for a list of videos,
            one such list per video.
        """
        if not candidate_labels:
            raise ValueError("Pass `candidate_labels`, the labels to score the video against.")
        labels = [candidate_labels] if isinstance(candidate_labels, str) else list(candidate_labels)
        label_embeds = self.embed_labels(labels, hypothesis_template)
        is_batch = (isinstance(videos, (list, tuple)) and not _is_frame_list(videos)) or (
            _is_array(videos) and videos.ndim == 5
        )
        results = super().__call__(
            list(videos) if is_batch else [videos], candidate_labels=labels, label_embeds=label_embeds, **kwargs
        )
        return results if is_batch else results[0]

    def embed_labels(self, labels: list[str], templates: str | list[str] = DEFAULT_TEMPLATE) -> torch.Tensor:
        """[`embed_label_prompts`] with this pipeline's model and processor."""
        return embed_label_prompts(self.model, self.processor, labels, templates)

    def _sanitize_parameters(self, candidate_labels=None, label_embeds=None, **kwargs):
        if kwargs:
            raise TypeError(f"Unexpected arguments for zero-shot-video-classification: {sorted(kwargs)}.")
        forward_params = {} if label_embeds is None else {"label_embeds": label_embeds}
        postprocess_params = {} if candidate_labels is None else {"candidate_labels": candidate_labels}
        return {}, forward_params, postprocess_params

    def preprocess(self, video: Any) -> dict[str, torch.Tensor]:
        inputs = self.processor(videos=video, return_tensors="pt")
        return {"pixel_values": inputs["pixel_values"].to(self.dtype)}

    def _forward(self, model_inputs: dict[str, torch.Tensor], label_embeds: torch.Tensor) -> dict[str, torch.Tensor]:
        video_embeds = embed_videos(self.model, model_inputs["pixel_values"])
        similarity = video_embeds @ label_embeds.to(video_embeds.device).T
        return {"logits": self.model.clamped_logit_scale() * similarity}

    def postprocess(self, model_outputs: dict[str, torch.Tensor], candidate_labels: list[str]) -> list[dict[str, Any]]:
        scores = model_outputs["logits"][0].softmax(dim=-1).tolist()
        ranked = sorted(zip(scores, candidate_labels, strict=True), key=lambda pair: -pair[0])
        return [{"score": score, "label": label} for score, label in ranked]

    def save_pretrained(self, save_directory: str, **kwargs: Any) -> None:
        """Saves the model, its processor and this pipeline's code, for `pipeline(..., trust_remote_code=True)`."""
        super().save_pretrained(save_directory, **kwargs)
        self.processor.save_pretrained(save_directory)


__all__ = [
    "DEFAULT_TEMPLATE",
    "KINETICS_TEMPLATES",
    "ZERO_SHOT_TASK",
    "ZeroShotVideoClassificationPipeline",
    "embed_label_prompts",
    "embed_texts",
    "embed_videos",
    "resolve_templates",
    "zero_shot_custom_pipelines",
]
