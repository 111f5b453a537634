# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""The `zero-shot-video-classification` pipeline: score a video against free-text labels with [`ViCLIPModel`].

`import viclip` registers it with transformers' `PIPELINE_REGISTRY`. The pipeline's `save_pretrained` writes a folder
(model, processor, this file) that `pipeline(..., trust_remote_code=True)` loads without `viclip`.
This file ships as Hub remote code: it imports only torch, transformers and its sibling files.
"""

from typing import Any

import torch
from transformers.pipelines.base import Pipeline

from .video_processing_viclip import is_array as _is_array, is_frame_list as _is_frame_list

# The 16 prompt templates of the reference's zero-shot Kinetics evaluation (spec §9), in the reference's order.
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
# Captions per text-tower forward when embedding the label set.
_TEXT_BATCH = 256


def resolve_templates(hypothesis_template: str | list[str] | tuple[str, ...]) -> list[str]:
    """A template (`"A video of {}"`), a list of templates, or a name (`"kinetics"`) as a list of templates."""
    if isinstance(hypothesis_template, str):
        templates = list(NAMED_TEMPLATES.get(hypothesis_template, (hypothesis_template,)))
    else:
        templates = list(hypothesis_template)
    if not templates:
        raise ValueError("hypothesis_template is empty; give a template with '{}', a list of them, or 'kinetics'.")
    for template in templates:
        if not isinstance(template, str) or "{}" not in template:
            raise ValueError(
                f"Each hypothesis template must be a string containing '{{}}' for the label, got {template!r}; "
                f"named template sets: {sorted(NAMED_TEMPLATES)}."
            )
    return templates


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
    >>> classifier = pipeline("zero-shot-video-classification", model="path/to/viclip")  # doctest: +SKIP
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
                f"zero-shot-video-classification needs a dual encoder such as ViCLIPModel, got "
                f"{type(self.model).__name__}; for a classifier with fixed labels use the 'video-classification' task."
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
        label_embeds = self.embed_labels(labels, resolve_templates(hypothesis_template))
        is_batch = (isinstance(videos, (list, tuple)) and not _is_frame_list(videos)) or (
            _is_array(videos) and videos.ndim == 5
        )
        results = super().__call__(
            list(videos) if is_batch else [videos], candidate_labels=labels, label_embeds=label_embeds, **kwargs
        )
        return results if is_batch else results[0]

    def embed_labels(self, labels: list[str], templates: list[str]) -> torch.Tensor:
        """
        The mean over `templates` of the L2-normalised text embeddings of each label, `[num_labels, projection_dim]`.
        Its dot product with a normalised video embedding is the mean cosine similarity over the templates.
        """
        captions = [template.format(label) for label in labels for template in templates]
        embeds = []
        with torch.no_grad():
            for start in range(0, len(captions), _TEXT_BATCH):
                text_inputs = self.processor(text=captions[start : start + _TEXT_BATCH], return_tensors="pt")
                text_inputs = {name: tensor.to(self.device) for name, tensor in text_inputs.items()}
                features = self.model.get_text_features(**text_inputs).pooler_output
                embeds.append(torch.nn.functional.normalize(features.float(), dim=-1))
        return torch.cat(embeds).view(len(labels), len(templates), -1).mean(dim=1)

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
        video_embeds = self.model.get_video_features(pixel_values=model_inputs["pixel_values"]).pooler_output
        video_embeds = torch.nn.functional.normalize(video_embeds.float(), dim=-1)
        similarity = video_embeds @ label_embeds.to(video_embeds.device).T
        logit_scale = self.model.logit_scale.float().clamp(max=self.model.config.logit_scale_max).exp()
        return {"logits": logit_scale * similarity}

    def postprocess(self, model_outputs: dict[str, torch.Tensor], candidate_labels: list[str]) -> list[dict[str, Any]]:
        scores = model_outputs["logits"][0].softmax(dim=-1).tolist()
        ranked = sorted(zip(scores, candidate_labels, strict=True), key=lambda pair: -pair[0])
        return [{"score": score, "label": label} for score, label in ranked]

    def save_pretrained(self, save_directory: str, **kwargs: Any) -> None:
        """Saves the model, its processor and this pipeline's code, for `pipeline(..., trust_remote_code=True)`."""
        super().save_pretrained(save_directory, **kwargs)
        self.processor.save_pretrained(save_directory)


__all__ = ["DEFAULT_TEMPLATE", "KINETICS_TEMPLATES", "ZeroShotVideoClassificationPipeline", "resolve_templates"]
