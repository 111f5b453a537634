# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""The ViCLIP tokenizer: OpenAI CLIP's byte-level BPE with a 32-token context, padded with id 0, that cleans every
caption the way the reference does before BPE.

[`ViCLIPTokenizer`] is a transformers [`CLIPTokenizer`] over the CLIP vocabulary (shipped with this package as the
CLIP merges file) with what the reference tokenizer does differently:

- every text is cleaned first ([`clean_caption`]: `ftfy.fix_text`, HTML-unescape twice, strip, collapse whitespace,
  lower case), so `tokenizer(text)` gives the reference ids for any caption;
- the context is 32 tokens; with `truncation=True` a long caption keeps the start token, its first 30 tokens and the
  end token;
- padding uses id 0, the `"!"` token, as the reference pads with zeros; a `"!"` written in a caption is still text;
- `<|startoftext|>` and `<|endoftext|>` written in a caption become their ids wherever the reference's word splitting
  sees them as words (everywhere except glued behind punctuation, as in `"!<|endoftext|>"`).

This file ships as Hub remote code next to `processing_viclip.py`: it imports only the standard library, `tokenizers`
and transformers at module level; `ftfy` is imported when a caption is cleaned.
"""

import functools
import gzip
import html
import json
import os
import re
from typing import Any

from tokenizers import Regex, normalizers, pre_tokenizers
from transformers import CLIPTokenizer
from transformers.tokenization_utils_base import BatchEncoding, TruncationStrategy
from transformers.utils import PaddingStrategy


# Number of lines of the merges file that the CLIP vocabulary uses: 49152 tokens minus the 256 byte tokens and the two
# special tokens gives the merges; line 0 is a version header.
_NUM_MERGES = 49152 - 256 - 2
CONTEXT_LENGTH = 32
PAD_TOKEN = "!"  # id 0: the reference pads token ids with zeros
BOS_TOKEN = "<|startoftext|>"
EOS_TOKEN = "<|endoftext|>"
DEFAULT_MERGES_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bpe_simple_vocab_16e6.txt.gz")

# A saved folder holds CLIP's vocabulary in `tokenizer.json`, and transformers 5 no longer compares the folder's
# `tokenizer_class` with the class that loads it: `CLIPTokenizer.from_pretrained(folder)` (how diffusers-style code
# loads tokenizers) would build itself from that vocabulary and silently give other ids (no ftfy or HTML cleaning,
# "!" matched as its pad token). Every transformers tokenizer checks `chat_control_tokens` (a list) as it is built and
# names the value when it is not one: saved as this sentence, it makes any other class refuse the folder, saying why.
# ViCLIPTokenizer removes it before building itself, and writes it back into each tokenizer_config.json it saves.
_REFUSAL_KEY = "chat_control_tokens"
_REFUSAL = (
    "this folder holds a ViCLIPTokenizer, which cleans every caption (ftfy, HTML unescaping) and pads with id 0 as "
    "the original ViCLIP does; CLIPTokenizer would give other token ids. Load it with "
    "AutoTokenizer.from_pretrained(folder) after `import viclip` (or with trust_remote_code=True), or with "
    "viclip.ViCLIPTokenizer.from_pretrained(folder)."
)

_WHITESPACE = re.compile(r"\s+")
# What the reference's training-caption normalisation deletes, and turns into spaces.
_TRAINING_CAPTION_DROPPED = re.compile(r"[,.'!?\"()*#:;~]")
_TRAINING_CAPTION_SPACED = re.compile(r"[-/]")
_MULTIPLE_SPACES = re.compile(r"\s{2,}")

# CLIP's word splitting (the same pattern as transformers' CLIPTokenizer): the reference encodes each word with BPE,
# except the two special-token words, which it maps to their ids. Offsets come back in characters.
_CLIP_WORD_PATTERN = r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""
_CLIP_WORDS = pre_tokenizers.Split(Regex(_CLIP_WORD_PATTERN), behavior="removed", invert=True)


def _byte_alphabet() -> list[str]:
    """The 256 printable characters byte-level BPE uses for the bytes 0..255, in CLIP's vocabulary order."""
    printable = (
        list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    )
    codepoints = {byte: byte for byte in printable}
    shift = 0
    for byte in range(256):
        if byte not in codepoints:
            codepoints[byte] = 256 + shift
            shift += 1
    # Vocabulary order: printable bytes first (in byte order), then the remapped ones.
    return [chr(codepoints[byte]) for byte in printable] + [
        chr(codepoints[byte]) for byte in range(256) if byte not in printable
    ]


@functools.lru_cache(maxsize=4)
def load_clip_vocab_and_merges(merges_file: str = DEFAULT_MERGES_FILE) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """
    Reads the OpenAI CLIP merges file and derives the CLIP vocabulary from it (cached in memory per file).

    The vocabulary is, in id order: the 256 byte characters, the same characters with the end-of-word marker `</w>`,
    one token per merge (the two halves joined), then `<|startoftext|>` (49406) and `<|endoftext|>` (49407).

    Args:
        merges_file (`str`): path of `bpe_simple_vocab_16e6.txt.gz` (gzipped) or of an uncompressed copy.

    Returns:
        `(vocab, merges)`: token -> id, and the merges as pairs in priority order.
    """
    if not os.path.isfile(merges_file):
        raise FileNotFoundError(f"CLIP merges file not found: {merges_file}")
    opener = gzip.open if merges_file.endswith(".gz") else open
    with opener(merges_file, "rt", encoding="utf-8") as handle:
        lines = handle.read().split("\n")
    merges = [tuple(line.split()) for line in lines[1 : _NUM_MERGES + 1]]
    if len(merges) != _NUM_MERGES or any(len(pair) != 2 for pair in merges):
        raise ValueError(
            f"{merges_file} is not the CLIP merges file: expected {_NUM_MERGES} merge lines of two symbols after the "
            f"header, got {len(merges)}."
        )
    alphabet = _byte_alphabet()
    tokens = alphabet + [symbol + "</w>" for symbol in alphabet] + ["".join(pair) for pair in merges]
    tokens += [BOS_TOKEN, EOS_TOKEN]
    vocab = {token: index for index, token in enumerate(tokens)}
    if len(vocab) != 49408:
        raise ValueError(f"{merges_file} gave {len(vocab)} distinct tokens instead of the 49408 of CLIP.")
    return vocab, merges


class ViCLIPTokenizer(CLIPTokenizer):
    r"""
    The ViCLIP tokenizer: a [`CLIPTokenizer`] (byte-level BPE over the OpenAI CLIP vocabulary) that cleans every text
    the way the reference does before BPE, with a 32-token context and padding id 0.

    With `padding="max_length", truncation=True` it gives exactly the reference's token ids:
    `[49406] + BPE(clean_caption(text))[:30] + [49407]`, padded with zeros to 32 tokens.

    What differs from a plain [`CLIPTokenizer`]:

    - **Cleaning.** Every text (every word of pre-split input, both texts of a pair) goes through [`clean_caption`]
      (ftfy, HTML unescape twice, whitespace, lower case) before BPE. `normalize_captions=True` in a call applies the
      reference's training-caption normalisation ([`normalize_training_caption`]) first. Because the text is
      rewritten, `return_offsets_mapping=True` is refused: offsets would point into the cleaned text, not into yours.
    - **Padding.** The pad token is `"!"`, id 0, because the reference pads with zeros. A `"!"` in a caption is text
      (`"!!"` is token 748), never the pad token.
    - **Special-token text.** `<|startoftext|>` / `<|endoftext|>` written in a caption become ids 49406 / 49407
      wherever CLIP's word splitting sees them as words, as in the reference (not when glued behind punctuation, as in
      `"!<|endoftext|>"`). Special tokens you add (`add_tokens(..., special_tokens=True)`) are matched in the text as
      written, before cleaning, as transformers does. `split_special_tokens=True` encodes all of them as text.
    - **Decoding.** Padding is never decoded. Id 0 is padding where it follows the last token (right padding) or
      precedes the start token (left padding): the last token of a BPE word always ends with `</w>` and id 0 (`"!"`)
      does not, so no text ends there. Elsewhere id 0 is the text `"!"` and decodes as such. A plain `decode` shows
      the start and end tokens; `skip_special_tokens=True` drops them (and any added special token) as well.

    Args:
        vocab (`dict[str, int]`, *optional*): token -> id. Defaults to the CLIP vocabulary derived from the merges file
            shipped with this package ([`load_clip_vocab_and_merges`]).
        merges (`list[tuple[str, str]]`, *optional*): the BPE merges in priority order; defaults like `vocab`.
        unk_token (`str`, *optional*, defaults to `"<|endoftext|>"`): the unknown token (byte-level BPE needs none).
        bos_token (`str`, *optional*, defaults to `"<|startoftext|>"`): the start token, id 49406.
        eos_token (`str`, *optional*, defaults to `"<|endoftext|>"`): the end token, id 49407.
        pad_token (`str`, *optional*, defaults to `"!"`): the padding token: id 0, as in the reference.
        kwargs: further [`CLIPTokenizer`] arguments; `model_max_length` defaults to 32.

    Example:

    ```python
    >>> from viclip import ViCLIPTokenizer
    >>> tokenizer = ViCLIPTokenizer()
    >>> ids = tokenizer("A Dog &amp; a cat!!", padding="max_length", truncation=True)["input_ids"]
    >>> ids[:8], len(ids)
    ([49406, 320, 1929, 261, 320, 2368, 748, 49407], 32)
    >>> tokenizer.decode(ids)
    '<|startoftext|>a dog & a cat !! <|endoftext|>'
    >>> tokenizer.decode(ids, skip_special_tokens=True)
    'a dog & a cat !!'
    ```
    """

    def __init__(
        self,
        vocab: dict[str, int] | None = None,
        merges: list[tuple[str, str]] | None = None,
        unk_token: str = EOS_TOKEN,
        bos_token: str = BOS_TOKEN,
        eos_token: str = EOS_TOKEN,
        pad_token: str = PAD_TOKEN,
        **kwargs,
    ):
        if kwargs.get(_REFUSAL_KEY) == _REFUSAL:
            del kwargs[_REFUSAL_KEY]  # meant for other tokenizer classes, see `_REFUSAL`
        if vocab is None and merges is None and kwargs.get("tokenizer_file") is None:
            # Not loading a saved tokenizer: the CLIP vocabulary from the merges file shipped with this package
            vocab, merges = load_clip_vocab_and_merges()
            vocab, merges = dict(vocab), list(merges)
        kwargs.setdefault("model_max_length", CONTEXT_LENGTH)
        super().__init__(
            vocab=vocab,
            merges=merges,
            unk_token=unk_token,
            bos_token=bos_token,
            eos_token=eos_token,
            pad_token=pad_token,
            **kwargs,
        )
        # `clean_caption` has already collapsed whitespace and lower-cased every text. The backend keeps these two
        # steps (for tools that read tokenizer.json alone) but not CLIP's Unicode NFC: the reference does not
        # normalise after unescaping HTML, so "cafe&amp;#769;" keeps its combining accent.
        self.backend_tokenizer.normalizer = normalizers.Sequence(
            [normalizers.Replace(Regex(r"\s+"), " "), normalizers.Lowercase()]
        )

    def _save_pretrained(self, save_directory, file_names, legacy_format=None, filename_prefix=None):
        """Saves the vocabulary like [`CLIPTokenizer`], and marks tokenizer_config.json so that other tokenizer
        classes refuse the folder instead of giving other ids (see `_REFUSAL`)."""
        config_file = next(name for name in file_names if name.endswith("tokenizer_config.json"))
        with open(config_file, encoding="utf-8") as handle:
            tokenizer_config = json.load(handle)
        tokenizer_config[_REFUSAL_KEY] = _REFUSAL
        with open(config_file, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(tokenizer_config, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
        return super()._save_pretrained(save_directory, file_names, legacy_format, filename_prefix)

    @classmethod
    def from_clip_tokenizer(cls, tokenizer: CLIPTokenizer) -> "ViCLIPTokenizer":
        """
        A ViCLIPTokenizer with the vocabulary, merges, special tokens, context and sides of `tokenizer`: for folders
        saved before ViCLIPTokenizer existed, whose tokenizer loads as a plain [`CLIPTokenizer`].
        """
        model = json.loads(tokenizer.backend_tokenizer.to_str())["model"]
        merges = [tuple(merge.split(" ")) if isinstance(merge, str) else tuple(merge) for merge in model["merges"]]
        return cls(
            vocab=model["vocab"],
            merges=merges,
            unk_token=str(tokenizer.unk_token),
            bos_token=str(tokenizer.bos_token),
            eos_token=str(tokenizer.eos_token),
            pad_token=str(tokenizer.pad_token),
            model_max_length=tokenizer.model_max_length,
            padding_side=tokenizer.padding_side,
            truncation_side=tokenizer.truncation_side,
            name_or_path=tokenizer.name_or_path,
        )

    @staticmethod
    def _clean(text: Any, normalize_captions: bool) -> Any:
        """`text` (a string, or nested lists/tuples of strings) with every string cleaned as the reference does."""
        if isinstance(text, str):
            return clean_caption(normalize_training_caption(text) if normalize_captions else text)
        if isinstance(text, (list, tuple)):
            return type(text)(ViCLIPTokenizer._clean(item, normalize_captions) for item in text)
        return text  # not text: the input check of `_encode_plus` reports it

    def _split_at_special_words(self, text: str) -> list[str | int]:
        """
        `text` cut where CLIP's word splitting finds `<|startoftext|>` or `<|endoftext|>` as a word: the text pieces
        between them, and their ids in their place.
        """
        if not any(str(word) in text for word in (self.bos_token, self.eos_token)):
            return [text]
        special_ids = {str(self.bos_token): self.bos_token_id, str(self.eos_token): self.eos_token_id}
        pieces, start = [], 0
        for word, (begin, end) in _CLIP_WORDS.pre_tokenize_str(text):
            if word in special_ids:
                pieces += [text[start:begin], special_ids[word]]
                start = end
        pieces.append(text[start:])
        return [piece for piece in pieces if piece != ""]

    def _added_special_tokens_pattern(self) -> re.Pattern | None:
        """
        The special tokens added to this tokenizer beyond the start, end and pad tokens, as a pattern that splits raw
        text around them: transformers matches added special tokens in the text as written, before any cleaning.
        """
        reserved = {str(self.bos_token), str(self.eos_token), str(self.pad_token)}
        added = {str(token) for token in self.added_tokens_decoder.values() if token.special} - reserved
        if not added:
            return None
        return re.compile("(" + "|".join(re.escape(token) for token in sorted(added, key=len, reverse=True)) + ")")

    def _to_pieces(self, text: str, normalize_captions: bool, added_special: re.Pattern | None) -> list[str | int]:
        """
        `text` as the reference tokenizes it: the cleaned text, cut around its special tokens (added special tokens;
        `<|startoftext|>` / `<|endoftext|>` where CLIP's word splitting finds them as words), their ids in their
        place.
        """
        parts = added_special.split(text) if added_special is not None else [text]
        pieces = []
        for index, part in enumerate(parts):
            if index % 2:  # an added special token
                pieces.append(self.convert_tokens_to_ids(part))
            else:
                pieces += self._split_at_special_words(self._clean(part, normalize_captions))
        return pieces if len(pieces) == 1 else [piece for piece in pieces if piece != ""]

    def _encode_plus(
        self,
        text: Any,
        text_pair: Any = None,
        add_special_tokens: bool = True,
        padding_strategy: PaddingStrategy = PaddingStrategy.DO_NOT_PAD,
        truncation_strategy: TruncationStrategy = TruncationStrategy.DO_NOT_TRUNCATE,
        max_length: int | None = None,
        is_split_into_words: bool = False,
        split_special_tokens: bool | None = None,
        normalize_captions: bool = False,
        **kwargs,
    ) -> BatchEncoding:
        if kwargs.get("return_offsets_mapping"):
            raise ValueError(
                "ViCLIPTokenizer does not return offsets (`return_offsets_mapping=True`): it rewrites every text "
                "before BPE (ftfy, HTML unescaping, whitespace, lower case), so offsets would point into the cleaned "
                "text, not into yours."
            )
        if split_special_tokens is None:
            split_special_tokens = self.split_special_tokens
        is_batched = isinstance(text, (list, tuple))
        texts = list(text) if is_batched else [text]
        if split_special_tokens:
            text, text_pair = self._clean(text, normalize_captions), self._clean(text_pair, normalize_captions)
        elif text_pair is None and not is_split_into_words and all(isinstance(item, str) for item in texts):
            added_special = self._added_special_tokens_pattern()
            pieces_per_text = [self._to_pieces(item, normalize_captions, added_special) for item in texts]
            if any(isinstance(piece, int) for pieces in pieces_per_text for piece in pieces):
                return self._encode_pieces(
                    pieces_per_text,
                    is_batched,
                    add_special_tokens,
                    padding_strategy,
                    truncation_strategy,
                    max_length,
                    **kwargs,
                )
            cleaned = [pieces[0] for pieces in pieces_per_text]
            text = cleaned if is_batched else cleaned[0]
        else:
            added_special = self._added_special_tokens_pattern()
            raw = [text, text_pair]
            text, text_pair = self._clean(text, normalize_captions), self._clean(text_pair, normalize_captions)
            spelled_out = any(
                isinstance(piece, int)
                for item in _strings([text, text_pair])
                for piece in self._split_at_special_words(item)
            )
            if spelled_out or (
                added_special is not None and any(added_special.search(item) for item in _strings(raw))
            ):
                raise ValueError(
                    "ViCLIPTokenizer maps special tokens written in text to their ids only in single, unsplit texts "
                    "(not in text pairs or pre-split words); pass `split_special_tokens=True` to encode them as text."
                )
        # The backend never matches special tokens in text: "!" is the pad token but also an ordinary character
        return super()._encode_plus(
            text=text,
            text_pair=text_pair,
            add_special_tokens=add_special_tokens,
            padding_strategy=padding_strategy,
            truncation_strategy=truncation_strategy,
            max_length=max_length,
            is_split_into_words=is_split_into_words,
            split_special_tokens=True,
            **kwargs,
        )

    def _encode_pieces(
        self,
        pieces_per_text: list[list[str | int]],
        is_batched: bool,
        add_special_tokens: bool,
        padding_strategy: PaddingStrategy,
        truncation_strategy: TruncationStrategy,
        max_length: int | None,
        stride: int = 0,
        pad_to_multiple_of: int | None = None,
        padding_side: str | None = None,
        return_tensors: str | None = None,
        return_token_type_ids: bool | None = None,
        return_attention_mask: bool | None = None,
        return_overflowing_tokens: bool = False,
        return_special_tokens_mask: bool = False,
        return_length: bool = False,
        verbose: bool = True,
        **kwargs,
    ) -> BatchEncoding:
        """Encodes texts cut around their special tokens ([`_to_pieces`]): BPE of the text pieces, ids in between."""
        if return_overflowing_tokens:
            raise ValueError(
                "`return_overflowing_tokens=True` is not supported for texts that spell out special tokens; pass "
                "`split_special_tokens=True` to encode them as text."
            )
        text_pieces = [piece for pieces in pieces_per_text for piece in pieces if isinstance(piece, str)]
        self.set_truncation_and_padding(
            PaddingStrategy.DO_NOT_PAD, TruncationStrategy.DO_NOT_TRUNCATE, max_length, stride, None, None
        )
        self.backend_tokenizer.encode_special_tokens = True
        encoded_pieces = iter(self.backend_tokenizer.encode_batch(text_pieces, add_special_tokens=False))
        budget = None
        if truncation_strategy != TruncationStrategy.DO_NOT_TRUNCATE and max_length is not None:
            budget = max(max_length - (2 if add_special_tokens else 0), 0)
        input_ids = []
        for pieces in pieces_per_text:
            ids = [i for piece in pieces for i in ([piece] if isinstance(piece, int) else next(encoded_pieces).ids)]
            if budget is not None and len(ids) > budget:
                ids = ids[:budget] if self.truncation_side == "right" else ids[len(ids) - budget :]
            if add_special_tokens:
                ids = [self.bos_token_id, *ids, self.eos_token_id]
            self._eventual_warn_about_too_long_sequence(ids, max_length, verbose)
            input_ids.append(ids)
        features = {"input_ids": input_ids}
        if return_special_tokens_mask:
            features["special_tokens_mask"] = [
                [1] + [0] * (len(ids) - 2) + [1] if add_special_tokens else [0] * len(ids) for ids in input_ids
            ]
        if return_token_type_ids:
            features["token_type_ids"] = [[0] * len(ids) for ids in input_ids]
        data = self.pad(
            features,
            padding=padding_strategy,
            max_length=max_length,
            pad_to_multiple_of=pad_to_multiple_of,
            padding_side=padding_side,
            return_attention_mask=return_attention_mask,
        ).data
        if return_length:
            data["length"] = [len(ids) for ids in data["input_ids"]]
        if not is_batched and return_tensors is None:
            data = {key: value[0] for key, value in data.items()}
        return BatchEncoding(data, tensor_type=return_tensors)

    def tokenize(self, text: str, pair: str | None = None, add_special_tokens: bool = False, **kwargs) -> list[str]:
        encoding = self._encode_plus(text=text, text_pair=pair, add_special_tokens=add_special_tokens, **kwargs)
        return self.convert_ids_to_tokens(encoding["input_ids"])

    def _without_padding(self, token_ids: list[int]) -> list[int]:
        """`token_ids` without right padding (trailing pad ids) and left padding (pad ids before the start token)."""
        pad_id = self.pad_token_id
        end = len(token_ids)
        while end > 0 and token_ids[end - 1] == pad_id:
            end -= 1
        start = 0
        if self.bos_token_id in token_ids[:end]:
            first = token_ids.index(self.bos_token_id)
            if all(token_id == pad_id for token_id in token_ids[:first]):
                start = first
        return token_ids[start:end]

    def _ids_to_show(self, token_ids: list[int], skip_special_tokens: bool) -> list[int]:
        token_ids = self._without_padding([int(token_id) for token_id in token_ids])
        if skip_special_tokens:
            # id 0 is also the text "!": only the padding, removed above, is skipped for it
            added_special = {index for index, token in self.added_tokens_decoder.items() if token.special}
            skipped = (set(self.all_special_ids) | added_special) - {self.pad_token_id}
            token_ids = [token_id for token_id in token_ids if token_id not in skipped]
        return token_ids

    def convert_ids_to_tokens(self, ids: int | list[int], skip_special_tokens: bool = False) -> str | list[str]:
        if isinstance(ids, int):
            return super().convert_ids_to_tokens(ids)
        return super().convert_ids_to_tokens(self._ids_to_show(ids, skip_special_tokens))

    def _decode(
        self,
        token_ids: int | list[int],
        skip_special_tokens: bool = False,
        clean_up_tokenization_spaces: bool | None = None,
        **kwargs,
    ) -> str:
        token_ids = [token_ids] if isinstance(token_ids, int) else token_ids
        return super()._decode(
            self._ids_to_show(token_ids, skip_special_tokens),
            skip_special_tokens=False,
            clean_up_tokenization_spaces=clean_up_tokenization_spaces,
            **kwargs,
        )


def build_viclip_tokenizer(
    save_directory: str | os.PathLike | None = None,
    merges_file: str = DEFAULT_MERGES_FILE,
    model_max_length: int = CONTEXT_LENGTH,
) -> ViCLIPTokenizer:
    """
    Builds the ViCLIP tokenizer ([`ViCLIPTokenizer`]) from a CLIP merges file: 32-token context, right padding with
    id 0 (`"!"`), start 49406 and end 49407, the reference's caption cleaning. With `truncation=True` a long caption
    keeps the start token, its first 30 tokens and the end token, as in the reference.

    Args:
        save_directory (`str` or `os.PathLike`, *optional*): if given, the tokenizer files are written there (and
            nowhere else).
        merges_file (`str`, *optional*): the CLIP merges file; defaults to the copy shipped with this package.
        model_max_length (`int`, defaults to 32): context length of the text tower.
    """
    vocab, merges = load_clip_vocab_and_merges(merges_file)
    tokenizer = ViCLIPTokenizer(vocab=dict(vocab), merges=list(merges), model_max_length=model_max_length)
    if save_directory is not None:
        tokenizer.save_pretrained(save_directory)
    return tokenizer


def _strings(value: Any):
    """The strings in `value`: itself, or those in its nested lists and tuples."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


def _fix_text(text: str) -> str:
    try:
        import ftfy
    except ImportError as error:
        raise ImportError(
            "ViCLIP cleans captions with `ftfy` exactly as the reference does; install it with `pip install ftfy`."
        ) from error
    return ftfy.fix_text(text)


def clean_caption(text: str) -> str:
    """
    Cleans a caption the way the reference tokenizer does before BPE: `ftfy.fix_text`, HTML-unescape twice, strip,
    collapse runs of whitespace to one space, lower case. [`ViCLIPTokenizer`] applies it to every text it encodes.
    """
    if not isinstance(text, str):
        raise TypeError(f"A caption must be a str, got {type(text).__name__}: {text!r}")
    text = html.unescape(html.unescape(_fix_text(text))).strip()
    return _WHITESPACE.sub(" ", text).strip().lower()


def normalize_training_caption(text: str) -> str:
    """
    The normalisation the reference applied to its training captions before tokenisation: lower case, delete
    `, . ' ! ? " ( ) * # : ; ~`, turn `-` and `/` into spaces, `<person>` into `person`, collapse repeated
    whitespace, strip. The reference's inference demo does not do this, so [`ViCLIPTokenizer`] (and through it
    [`ViCLIPProcessor`]) only applies it when asked (`normalize_captions=True`).
    """
    if not isinstance(text, str):
        raise TypeError(f"A caption must be a str, got {type(text).__name__}: {text!r}")
    text = _TRAINING_CAPTION_DROPPED.sub("", text.lower())
    text = _TRAINING_CAPTION_SPACED.sub(" ", text).replace("<person>", "person")
    return _MULTIPLE_SPACES.sub(" ", text).strip()


__all__ = [
    "CONTEXT_LENGTH",
    "ViCLIPTokenizer",
    "build_viclip_tokenizer",
    "clean_caption",
    "load_clip_vocab_and_merges",
    "normalize_training_caption",
]
