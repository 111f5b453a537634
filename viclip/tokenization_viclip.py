# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""The ViCLIP tokenizer: OpenAI CLIP's byte-level BPE with a 32-token context, padded with id 0, plus the caption
cleaning the reference applies before BPE.

ViCLIP needs no tokenizer class of its own: it is a stock transformers [`CLIPTokenizer`] built from the CLIP merges
file shipped with this package. What differs from an OpenAI CLIP checkpoint is the context (32, not 77) and the padding
id (0, the `"!"` token, which the reference pads with). The reference also cleans every caption (`ftfy`, HTML entities,
whitespace, lower case) before BPE; [`ViCLIPProcessor`] applies [`clean_caption`] for that reason.

This file ships as Hub remote code next to `processing_viclip.py`: it imports only the standard library and
transformers at module level; `ftfy` is imported when a caption is cleaned.
"""

import functools
import gzip
import html
import os
import re

from transformers import CLIPTokenizer

# Number of lines of the merges file that the CLIP vocabulary uses: 49152 tokens minus the 256 byte tokens and the two
# special tokens gives the merges; line 0 is a version header.
_NUM_MERGES = 49152 - 256 - 2
CONTEXT_LENGTH = 32
PAD_TOKEN = "!"  # id 0: the reference pads token ids with zeros
BOS_TOKEN = "<|startoftext|>"
EOS_TOKEN = "<|endoftext|>"
DEFAULT_MERGES_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bpe_simple_vocab_16e6.txt.gz")

_WHITESPACE = re.compile(r"\s+")
# What the reference's training-caption normalisation deletes, and turns into spaces.
_TRAINING_CAPTION_DROPPED = re.compile(r"[,.'!?\"()*#:;~]")
_TRAINING_CAPTION_SPACED = re.compile(r"[-/]")
_MULTIPLE_SPACES = re.compile(r"\s{2,}")


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


def build_viclip_tokenizer(
    save_directory: str | os.PathLike | None = None,
    merges_file: str = DEFAULT_MERGES_FILE,
    model_max_length: int = CONTEXT_LENGTH,
) -> CLIPTokenizer:
    """
    Builds the ViCLIP tokenizer: a [`CLIPTokenizer`] over the CLIP vocabulary with a 32-token context, right padding
    with id 0 (`"!"`), start 49406 and end 49407. With `truncation=True` a long caption keeps the start token, its
    first 30 tokens and the end token, as in the reference.

    The pad token `"!"` is also an ordinary character, so the tokenizer is built with `split_special_tokens=True`:
    text is never matched against special tokens (otherwise every `"!"` in a caption would become a pad token).
    The tokenizer does not clean text either; [`ViCLIPProcessor`] does both the reference's way: it runs
    [`clean_caption`] and maps `<|startoftext|>` / `<|endoftext|>` written in a caption to their ids.

    Args:
        save_directory (`str` or `os.PathLike`, *optional*): if given, the tokenizer files are written there (and
            nowhere else).
        merges_file (`str`, *optional*): the CLIP merges file; defaults to the copy shipped with this package.
        model_max_length (`int`, defaults to 32): context length of the text tower.
    """
    vocab, merges = load_clip_vocab_and_merges(merges_file)
    tokenizer = CLIPTokenizer(
        vocab=dict(vocab),
        merges=list(merges),
        unk_token=EOS_TOKEN,
        bos_token=BOS_TOKEN,
        eos_token=EOS_TOKEN,
        pad_token=PAD_TOKEN,
        model_max_length=model_max_length,
        padding_side="right",
        truncation_side="right",
        # "!" is both a character and the pad token: encode special-token text as text, so "!" keeps its BPE ids
        split_special_tokens=True,
    )
    if save_directory is not None:
        tokenizer.save_pretrained(save_directory)
    return tokenizer


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
    collapse runs of whitespace to one space, lower case.
    """
    if not isinstance(text, str):
        raise TypeError(f"A caption must be a str, got {type(text).__name__}: {text!r}")
    text = html.unescape(html.unescape(_fix_text(text))).strip()
    return _WHITESPACE.sub(" ", text).strip().lower()


def normalize_training_caption(text: str) -> str:
    """
    The normalisation the reference applied to training captions (spec §6), before tokenisation: lower case, delete
    `, . ' ! ? " ( ) * # : ; ~`, turn `-` and `/` into spaces, `<person>` into `person`, collapse repeated
    whitespace, strip. The inference demo does not do this, so [`ViCLIPProcessor`] only applies it when asked
    (`normalize_captions=True`).
    """
    if not isinstance(text, str):
        raise TypeError(f"A caption must be a str, got {type(text).__name__}: {text!r}")
    text = _TRAINING_CAPTION_DROPPED.sub("", text.lower())
    text = _TRAINING_CAPTION_SPACED.sub(" ", text).replace("<person>", "person")
    return _MULTIPLE_SPACES.sub(" ", text).strip()


__all__ = [
    "CONTEXT_LENGTH",
    "build_viclip_tokenizer",
    "clean_caption",
    "load_clip_vocab_and_merges",
    "normalize_training_caption",
]
