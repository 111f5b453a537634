# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""ViCLIPProcessor: the ViCLIP video processor and the CLIP tokenizer behind one call, with the reference's caption
cleaning.

This file ships as Hub remote code together with `video_processing_viclip.py` and `tokenization_viclip.py`.
"""

import re
from types import SimpleNamespace
from typing import Any

import numpy as np
from transformers.image_processing_utils import BatchFeature
from transformers.processing_utils import ProcessingKwargs, ProcessorMixin, TextKwargs

from .original_checkpoint import original_checkpoint_sizes
from .tokenization_viclip import build_viclip_tokenizer, clean_caption, normalize_training_caption
from .video_processing_viclip import ViCLIPVideoProcessor, ViCLIPVideoProcessorKwargs

# The special tokens a caption may spell out; the reference tokenizer maps them to their ids.
_SPECIAL_TOKEN_TEXT = re.compile(r"(<\|startoftext\|>|<\|endoftext\|>)")


class ViCLIPProcessingKwargs(ProcessingKwargs, total=False):
    text_kwargs: TextKwargs
    videos_kwargs: ViCLIPVideoProcessorKwargs


class ViCLIPProcessor(ProcessorMixin):
    r"""
    Prepares captions and videos for [`ViCLIPModel`]: `input_ids` and `attention_mask` from the tokenizer, and
    `pixel_values` from [`ViCLIPVideoProcessor`].

    Captions are cleaned as the reference cleans them ([`clean_caption`]: ftfy, HTML unescape twice, whitespace,
    lower case), then BPE-encoded; by default they are padded with id 0 to the 32-token context and long captions are
    cut to the start token, 30 tokens and the end token, so the ids equal the reference's. `normalize_captions=True`
    also applies the reference's training-caption normalisation ([`normalize_training_caption`]) first.

    Args:
        video_processor ([`ViCLIPVideoProcessor`]): turns videos into `pixel_values`.
        tokenizer ([`CLIPTokenizer`]): the CLIP tokenizer with a 32-token context and pad id 0, as built by
            [`build_viclip_tokenizer`].

    Example:

    ```python
    >>> from transformers import AutoModel, AutoProcessor
    >>> processor = AutoProcessor.from_pretrained("path/to/viclip")  # doctest: +SKIP
    >>> inputs = processor(text=["a dog catching a frisbee"], videos="video.mp4")  # doctest: +SKIP
    >>> sorted(inputs.keys())  # doctest: +SKIP
    ['attention_mask', 'input_ids', 'pixel_values']
    ```
    """

    valid_processor_kwargs = ViCLIPProcessingKwargs
    # Reference token ids: pad every caption to the tokenizer's 32-token context, cut longer ones.
    text_kwargs = {"padding": "max_length", "truncation": True}
    # Text arguments this processor implements (it assembles the ids itself, see `encode_captions`).
    _text_arguments = (
        "padding",
        "truncation",
        "max_length",
        "pad_to_multiple_of",
        "padding_side",
        "return_attention_mask",
    )

    def __init__(self, video_processor=None, tokenizer=None, **kwargs):
        super().__init__(video_processor, tokenizer, **kwargs)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, **kwargs) -> "ViCLIPProcessor":
        """
        Loads a saved processor; a folder or Hub repository in one of OpenGVLab's layouts (the original `.pth`
        release, or their remote-code ports), which holds no processor files, gives the reference processor of its
        model: [`from_model_config`] with the frame count, frame size and text context read from its tensor shapes.
        """
        hub_kwargs = {k: kwargs[k] for k in ("cache_dir", "revision", "token", "local_files_only") if k in kwargs}
        sizes = original_checkpoint_sizes(pretrained_model_name_or_path, **hub_kwargs)
        if sizes is not None:
            towers = {tower: SimpleNamespace(**sizes[tower]) for tower in ("vision_config", "text_config")}
            return cls.from_model_config(SimpleNamespace(**towers))
        return super().from_pretrained(pretrained_model_name_or_path, **kwargs)

    @classmethod
    def from_model_config(cls, config: Any) -> "ViCLIPProcessor":
        """
        The default processor of a model: the reference evaluation transform with the frame count and frame size of
        `config.vision_config`, and the CLIP tokenizer with the context of `config.text_config`.
        """
        vision = config.vision_config
        video_processor = ViCLIPVideoProcessor(
            num_frames=vision.num_frames, size={"height": vision.image_size, "width": vision.image_size}
        )
        tokenizer = build_viclip_tokenizer(model_max_length=config.text_config.max_position_embeddings)
        return cls(video_processor=video_processor, tokenizer=tokenizer)

    def __call__(
        self,
        text: str | list[str] | None = None,
        videos: Any = None,
        normalize_captions: bool = False,
        rng: np.random.Generator | None = None,
        **kwargs,
    ) -> BatchFeature:
        """
        Tokenizes `text` and/or processes `videos`.

        Args:
            text (`str` or `list[str]`, *optional*): captions.
            videos (*optional*): anything [`ViCLIPVideoProcessor`] accepts (paths, arrays, frame lists, or a list).
            normalize_captions (`bool`, defaults to `False`): apply the reference's training-caption normalisation
                before cleaning (for training data; the reference's evaluation does not normalise).
            rng (`np.random.Generator`, *optional*): randomness for `sampling="rand"` and training augmentation.
            kwargs: text arguments (`padding`, `truncation`, `max_length`, `pad_to_multiple_of`, `padding_side`,
                `return_attention_mask`), video arguments (see [`ViCLIPVideoProcessor`]), and `return_tensors`
                (`"pt"` by default).

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
        return_tensors = kwargs.pop("return_tensors", "pt")
        output_kwargs = self._merge_kwargs(
            ViCLIPProcessingKwargs, tokenizer_init_kwargs=self.tokenizer.init_kwargs, **kwargs
        )
        data = {}
        if text is not None:
            data.update(
                self.encode_captions(text, normalize_captions=normalize_captions, **output_kwargs["text_kwargs"])
            )
        if videos is not None:
            videos_kwargs = {k: v for k, v in output_kwargs["videos_kwargs"].items() if k != "return_tensors"}
            data.update(self.video_processor(videos, rng=rng, return_tensors=None, **videos_kwargs))
        return BatchFeature(data=data, tensor_type=return_tensors)

    def clean_captions(self, text: str | list[str], normalize_captions: bool = False) -> list[str]:
        """The captions as the tokenizer receives them: [`clean_caption`], after [`normalize_training_caption`]
        when `normalize_captions`."""
        captions = [text] if isinstance(text, str) else text
        if not isinstance(captions, (list, tuple)) or not all(isinstance(caption, str) for caption in captions):
            raise TypeError(f"`text` must be a string or a list of strings, got {type(text).__name__}.")
        if normalize_captions:
            captions = [normalize_training_caption(caption) for caption in captions]
        return [clean_caption(caption) for caption in captions]

    def encode_captions(
        self,
        text: str | list[str],
        normalize_captions: bool = False,
        padding: bool | str = "max_length",
        truncation: bool | str | None = True,
        max_length: int | None = None,
        pad_to_multiple_of: int | None = None,
        padding_side: str | None = None,
        return_attention_mask: bool | None = None,
        **unsupported: Any,
    ) -> dict[str, list[list[int]]]:
        """
        Token ids as the reference computes them: cleaned caption, BPE, `[SOT] + tokens + [EOT]`, cut to
        `max_length` (the tokenizer's 32 by default) with the end token kept, padded with id 0.

        The tokenizer is called with `split_special_tokens=True` so that `"!"` (id 0, the pad token) in a caption is
        encoded as text; `<|startoftext|>` / `<|endoftext|>` written in a caption still become their ids, as in the
        reference.
        """
        unsupported = {k: v for k, v in unsupported.items() if v not in (None, False)}
        if unsupported:
            raise ValueError(
                f"ViCLIPProcessor does not support the text arguments {sorted(unsupported)}; supported ones are "
                f"{list(self._text_arguments)}."
            )
        tokenizer = self.tokenizer
        captions = self.clean_captions(text, normalize_captions=normalize_captions)
        parts_per_caption = [[part for part in _SPECIAL_TOKEN_TEXT.split(caption) if part] for caption in captions]
        special_ids = {tokenizer.bos_token: tokenizer.bos_token_id, tokenizer.eos_token: tokenizer.eos_token_id}
        plain_parts = [part for parts in parts_per_caption for part in parts if part not in special_ids]
        encoded = (
            iter(tokenizer(plain_parts, add_special_tokens=False, split_special_tokens=True)["input_ids"])
            if plain_parts
            else iter(())
        )
        max_length = max_length if max_length is not None else tokenizer.model_max_length
        cut = truncation not in (None, False, "do_not_truncate")
        input_ids = []
        for parts in parts_per_caption:
            ids = []
            for part in parts:
                ids.extend([special_ids[part]] if part in special_ids else next(encoded))
            if cut:
                ids = ids[: max_length - 2]
            input_ids.append([tokenizer.bos_token_id, *ids, tokenizer.eos_token_id])
        return tokenizer.pad(
            {"input_ids": input_ids},
            padding=padding,
            max_length=max_length,
            pad_to_multiple_of=pad_to_multiple_of,
            padding_side=padding_side,
            return_attention_mask=return_attention_mask,
        ).data


__all__ = ["ViCLIPProcessor"]
