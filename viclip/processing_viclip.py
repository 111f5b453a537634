# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""ViCLIPProcessor: the ViCLIP video processor and the ViCLIP tokenizer behind one call.

This file ships as Hub remote code together with `video_processing_viclip.py` and `tokenization_viclip.py`.
"""

from typing import Any

from transformers import CLIPTokenizer
from transformers.image_processing_utils import BatchFeature
from transformers.processing_utils import ProcessingKwargs, ProcessorMixin, TextKwargs, Unpack
from transformers.utils import logging

from .tokenization_viclip import ViCLIPTokenizer
from .video_processing_viclip import ViCLIPVideoProcessor, ViCLIPVideoProcessorKwargs


logger = logging.get_logger(__name__)


class ViCLIPTextKwargs(TextKwargs, total=False):
    """
    normalize_captions (`bool`, *optional*, defaults to `False`):
        Apply the reference's training-caption normalisation ([`normalize_training_caption`]) before the cleaning
        every caption gets. For training data; the reference's evaluation does not normalise.
    """

    normalize_captions: bool


class ViCLIPProcessorKwargs(ProcessingKwargs, total=False):
    text_kwargs: ViCLIPTextKwargs
    videos_kwargs: ViCLIPVideoProcessorKwargs


class ViCLIPProcessor(ProcessorMixin):
    r"""
    Prepares captions and videos for [`ViCLIPModel`]: `input_ids` and `attention_mask` from [`ViCLIPTokenizer`], and
    `pixel_values` from [`ViCLIPVideoProcessor`], as PyTorch tensors unless `return_tensors` says otherwise.

    By default captions are padded with id 0 to the tokenizer's 32-token context and long captions are cut to the start
    token, 30 tokens and the end token, so the ids equal the reference's; the tokenizer cleans every caption as the
    reference does. Text arguments (`padding`, `max_length`, `normalize_captions=True` for the reference's
    training-caption normalisation, ...) go to the tokenizer, video arguments (`num_frames`, `sampling`, `rng`, ...) to
    the video processor, flat or as `text_kwargs` / `videos_kwargs`.

    Args:
        video_processor ([`ViCLIPVideoProcessor`]): turns videos into `pixel_values`.
        tokenizer ([`ViCLIPTokenizer`]): the CLIP tokenizer with the reference's caption cleaning, a 32-token context
            and pad id 0. A plain [`CLIPTokenizer`] (the tokenizer of folders saved before ViCLIPTokenizer existed) is
            turned into a [`ViCLIPTokenizer`] with the same vocabulary and settings.

    Example:

    ```python
    >>> from transformers import AutoProcessor
    >>> processor = AutoProcessor.from_pretrained("path/to/viclip")  # doctest: +SKIP
    >>> inputs = processor(text=["a dog catching a frisbee"], videos="video.mp4")  # doctest: +SKIP
    >>> sorted(inputs.keys())  # doctest: +SKIP
    ['attention_mask', 'input_ids', 'pixel_values']
    ```
    """

    valid_processor_kwargs = ViCLIPProcessorKwargs
    # Reference token ids: pad every caption to the tokenizer's 32-token context, cut longer ones; tensors by default.
    text_kwargs = {"padding": "max_length", "truncation": True, "return_tensors": "pt"}
    videos_kwargs = {"return_tensors": "pt"}

    def __init__(self, video_processor=None, tokenizer=None, **kwargs):
        if isinstance(tokenizer, CLIPTokenizer) and not isinstance(tokenizer, ViCLIPTokenizer):
            logger.info("Turning the %s of this processor into a ViCLIPTokenizer.", type(tokenizer).__name__)
            tokenizer = ViCLIPTokenizer.from_clip_tokenizer(tokenizer)
        super().__init__(video_processor, tokenizer, **kwargs)

    @classmethod
    def from_model_config(cls, config: Any) -> "ViCLIPProcessor":
        """
        The default processor of a model: the reference evaluation transform with the frame count and frame size of
        `config.vision_config`, and the ViCLIP tokenizer with the context of `config.text_config`.
        """
        vision = config.vision_config
        video_processor = ViCLIPVideoProcessor(
            num_frames=vision.num_frames, size={"height": vision.image_size, "width": vision.image_size}
        )
        tokenizer = ViCLIPTokenizer(model_max_length=config.text_config.max_position_embeddings)
        return cls(video_processor=video_processor, tokenizer=tokenizer)

    def save_pretrained(self, save_directory, push_to_hub: bool = False, **kwargs) -> list[str]:
        """
        Saves the processor like [`~ProcessorMixin.save_pretrained`], with `auto_map` in processor_config.json and the
        processing files next to it, so that the folder also loads with `trust_remote_code=True` alone.
        """
        saved_files = super().save_pretrained(save_directory, push_to_hub=push_to_hub, **kwargs)
        # Saving sets `auto_map` on the processor and its video processor to write it into processor_config.json; as
        # for the `auto_map` it adds to tokenizers while saving, it is not part of their state: reloaded, they have none
        self.__dict__.pop("auto_map", None)
        self.video_processor.__dict__.pop("auto_map", None)
        return saved_files

    def __call__(
        self,
        text: str | list[str] | None = None,
        videos: Any = None,
        **kwargs: Unpack[ViCLIPProcessorKwargs],
    ) -> BatchFeature:
        """
        Tokenizes `text` and/or processes `videos`.

        Args:
            text (`str` or `list[str]`, *optional*): captions.
            videos (*optional*): anything [`ViCLIPVideoProcessor`] accepts (paths, arrays, frame lists, or a list).
            kwargs: text arguments for [`ViCLIPTokenizer`] (`padding`, `truncation`, `max_length`,
                `normalize_captions`, ...), video arguments for [`ViCLIPVideoProcessor`] (`num_frames`, `sampling`,
                `do_train_augmentation`, `rng`, ...) and `return_tensors` (`"pt"` by default).

        Returns:
            [`BatchFeature`] with `input_ids` and `attention_mask` (if `text`) and `pixel_values` (if `videos`).
        """
        if "images" in kwargs:
            raise ValueError(
                "ViCLIPProcessor takes `videos`; pass an image as a one-frame video, e.g. `videos=[[image]], "
                "num_frames=1`."
            )
        if text is None and videos is None:
            raise ValueError("ViCLIPProcessor needs `text`, `videos` or both.")
        # One caption is a batch of one, as one video is: `input_ids` is always `[batch, length]`
        text = [text] if isinstance(text, str) else text
        if text is not None and not (
            kwargs.get("is_split_into_words") or kwargs.get("text_kwargs", {}).get("is_split_into_words")
        ):
            _check_captions(text)
        return super().__call__(text=text, videos=videos, **kwargs)


def _check_captions(text: Any) -> None:
    """Refuses `text` that is not a non-empty list of strings, naming the first entry that is not a caption."""
    if not isinstance(text, (list, tuple)):
        raise ValueError(f"`text` must be a caption (a string) or a list of them, got a {type(text).__name__}.")
    if not text:
        raise ValueError("`text` is an empty list: give at least one caption, or leave `text` out for videos only.")
    for position, caption in enumerate(text):
        if isinstance(caption, str):
            continue
        hint = {
            bytes: " (decode it first: `caption.decode('utf-8')`)",
            float: " (a table's empty cell is read as NaN: fill or drop those rows)",
        }.get(type(caption), "")
        raise ValueError(
            f"text[{position}] is {caption!r} ({type(caption).__name__}), not a caption: every entry of `text` must be "
            f"a string{hint}."
        )


__all__ = ["ViCLIPProcessor"]
