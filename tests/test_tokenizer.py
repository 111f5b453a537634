# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""The ViCLIP tokenizer and caption cleaning against the reference token ids (spec §6)."""

import json
import os

import pytest
from transformers import AutoTokenizer, CLIPTokenizer

from viclip import (
    ViCLIPProcessor,
    ViCLIPVideoProcessor,
    build_viclip_tokenizer,
    clean_caption,
    normalize_training_caption,
)
from viclip.tokenization_viclip import load_clip_vocab_and_merges

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
with open(os.path.join(FIXTURES, "tokenizer_cases.json"), encoding="utf-8") as handle:
    REFERENCE = json.load(handle)


@pytest.fixture(scope="module")
def tokenizer():
    return build_viclip_tokenizer()


@pytest.fixture(scope="module")
def processor(tokenizer):
    return ViCLIPProcessor(ViCLIPVideoProcessor(), tokenizer)


@pytest.mark.parametrize("case", REFERENCE["cases"], ids=lambda case: repr(case["text"][:30]))
def test_processor_ids_equal_reference_ids(processor, case):
    ids = processor(text=case["text"], padding="max_length", return_tensors=None)["input_ids"]
    assert ids == [case["input_ids"]]


def test_processor_ids_equal_reference_ids_as_one_batch(processor):
    texts = [case["text"] for case in REFERENCE["cases"]]
    batch = processor(text=texts, return_tensors="pt")
    assert batch["input_ids"].tolist() == [case["input_ids"] for case in REFERENCE["cases"]]
    lengths = [32 - ids[::-1].index(49407) for ids in (case["input_ids"] for case in REFERENCE["cases"])]
    assert batch["attention_mask"].tolist() == [[1] * length + [0] * (32 - length) for length in lengths]


def test_vocabulary_has_clip_layout():
    vocab, merges = load_clip_vocab_and_merges()
    assert len(vocab) == 49408 and len(merges) == 48894
    assert vocab["!"] == 0 and vocab["!</w>"] == 256  # bytes, then bytes with the end-of-word marker
    assert vocab["".join(merges[0])] == 512  # then one token per merge, in merge order
    assert vocab["<|startoftext|>"] == 49406 and vocab["<|endoftext|>"] == 49407


def test_vocabulary_is_cached_in_memory():
    assert load_clip_vocab_and_merges() is load_clip_vocab_and_merges()


def test_tokenizer_is_a_clip_tokenizer_with_32_tokens_and_pad_id_0(tokenizer):
    assert isinstance(tokenizer, CLIPTokenizer)
    assert tokenizer.model_max_length == 32
    assert (tokenizer.pad_token_id, tokenizer.bos_token_id, tokenizer.eos_token_id) == (0, 49406, 49407)
    ids = tokenizer("a man", padding="max_length")["input_ids"]
    assert ids == [49406, 320, 786, 49407] + [0] * 28


def test_tokenizer_truncation_keeps_start_30_tokens_and_end(tokenizer):
    ids = tokenizer(" ".join(["word"] * 40), padding="max_length", truncation=True)["input_ids"]
    assert ids == [49406] + [2653] * 30 + [49407]


def test_exclamation_mark_in_text_is_not_the_pad_token(tokenizer):
    # "!" is id 0, the pad token; it must still be BPE-encoded as text ("!!" is one token, 748)
    assert tokenizer("bark!!")["input_ids"] == [49406, 16560, 748, 49407]


def test_saved_tokenizer_reloads_with_auto_tokenizer(tokenizer, tmp_path):
    tokenizer.save_pretrained(tmp_path)
    reloaded = AutoTokenizer.from_pretrained(tmp_path)
    assert isinstance(reloaded, CLIPTokenizer)
    text = "Two dogs run across a snowy field and bark!!"
    assert reloaded(text, padding="max_length")["input_ids"] == tokenizer(text, padding="max_length")["input_ids"]


def test_builder_writes_only_into_the_given_folder(tmp_path):
    target = tmp_path / "tokenizer"
    build_viclip_tokenizer(save_directory=target)
    assert sorted(os.listdir(tmp_path)) == ["tokenizer"]
    assert "tokenizer.json" in os.listdir(target)


def test_clean_caption_follows_reference_rules():
    assert clean_caption("  Snowy  FIELD\t&amp;amp;\n bark ") == "snowy field & bark"  # HTML unescaped twice
    assert clean_caption("Ã©tÃ©") == "été"  # ftfy repairs mojibake


def test_normalize_training_caption_drops_punctuation_and_splits_on_dash_and_slash():
    assert normalize_training_caption("A Man's (red) T-shirt, on/off: WOW!?") == "a mans red t shirt on off wow"


def test_processor_normalizes_captions_only_when_asked(processor):
    text = "Slow-motion: a dog/cat!"
    default = processor(text=text, return_tensors=None)["input_ids"][0]
    normalized = processor(text=text, normalize_captions=True, return_tensors=None)["input_ids"][0]
    assert default == processor(text="slow-motion: a dog/cat!", return_tensors=None)["input_ids"][0]
    assert normalized == processor(text="slow motion a dog cat", return_tensors=None)["input_ids"][0]
    assert normalized != default
