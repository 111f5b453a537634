# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""The ViCLIP tokenizer and caption cleaning against the reference token ids.

The reference cleans a caption (ftfy, HTML-unescape twice, strip, collapse whitespace, lower case), encodes it with
OpenAI CLIP's byte-level BPE (start 49406, end 49407, 49408 tokens), cuts `[SOT] + tokens + [EOT]` to 32 with the end
token kept last, and pads with 0. tests/fixtures/tokenizer_cases.json holds its ids for 12 captions;
`reference_token_ids` (tests/processing_helpers.py) recomputes them from those rules, independently of the package, for
the captions added here.
"""

import json
import os

import pytest
import torch
from transformers import AutoProcessor, AutoTokenizer, CLIPTokenizer
from transformers.testing_utils import CaptureLogger
from transformers.utils import logging

from tests.processing_helpers import reference_token_ids, run_fresh_python
from viclip import (
    ViCLIPProcessor,
    ViCLIPTokenizer,
    ViCLIPVideoProcessor,
    build_viclip_tokenizer,
    clean_caption,
    normalize_training_caption,
)
from viclip.tokenization_viclip import load_clip_vocab_and_merges


FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
with open(os.path.join(FIXTURES, "tokenizer_cases.json"), encoding="utf-8") as handle:
    REFERENCE = json.load(handle)


# Captions beyond the fixture: HTML entities (also double-escaped, and inside markup, where ftfy leaves them alone and
# unescaping leaves a combining accent that must not be NFC-composed), Unicode that ftfy or lower-casing rewrites,
# empty and blank text, "!" next to the pad id, special-token words (also glued behind punctuation, where the
# reference's word splitting does not see them as words), digits, and captions longer than the context.
ADDED_CAPTIONS = [
    "A Dog &amp; a cat!!",
    "&lt;b&gt;Bold&lt;/b&gt; &quot;quoted&quot; &#39;single&#39; &eacute;t&eacute; &nbsp;end",
    "double &amp;amp;amp; escaped &amp;lt;tag&amp;gt;",
    "cafe&amp;#769; au lait",
    "<b>cafe&#769;</b> in <i>html</i>",
    "\u201cCurly\u201d \u2018quotes\u2019 and the \ufb01ne \ufb02owers",
    "Stra\u00dfe \u03a3\u039f\u03a6\u0399\u0391 \u0130stanbul \u01c5emal",
    "\u00dcn\u00efc\u00f6d\u00e9 \u00c7\u00c3F\u00c9 \u2014 \u6771\u4eac\u30bf\u30ef\u30fc \U0001f3a5\U0001f3ac",
    "zero\u200bwidth tab\tand\u00a0nbsp\u3000ideographic",
    "",
    "   ",
    "\n\t\r",
    "wow!~ amazing!! !!!",
    "stop!<|endoftext|> go",
    "x <|startoftext|><|endoftext|> y <|ENDOFTEXT|>",
    "don't<|endoftext|>it's",
    "year 2024 at 3:45pm, 1/2 of 100%",
    " ".join(f"Caption word{index}, with punctuation!" for index in range(60)),
    "\u00dcn\u00efc\u00f6d\u00e9 " * 40,
]
ALL_CAPTIONS = [case["text"] for case in REFERENCE["cases"]] + ADDED_CAPTIONS
ALL_IDS = [case["input_ids"] for case in REFERENCE["cases"]] + [reference_token_ids(text) for text in ADDED_CAPTIONS]


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


# ViCLIPTokenizer: the reference's ids through every door


@pytest.fixture(scope="module")
def saved_folder(tmp_path_factory):
    """A folder as the converter writes it: a tiny model's config with its processor (tokenizer included)."""
    from tests.conftest import tiny_config_kwargs
    from tests.processing_helpers import tiny_processor
    from viclip import ViCLIPConfig

    folder = tmp_path_factory.mktemp("viclip_tokenizer")
    ViCLIPConfig(**tiny_config_kwargs()).save_pretrained(folder)
    tiny_processor().save_pretrained(folder)
    return folder


def test_reference_id_helper_reproduces_every_fixture_case():
    assert [reference_token_ids(case["text"]) for case in REFERENCE["cases"]] == [
        case["input_ids"] for case in REFERENCE["cases"]
    ]


def test_build_viclip_tokenizer_returns_a_viclip_tokenizer(tokenizer):
    assert type(tokenizer) is ViCLIPTokenizer
    assert type(ViCLIPTokenizer()) is ViCLIPTokenizer


@pytest.mark.parametrize(
    "text, expected", list(zip(ALL_CAPTIONS, ALL_IDS, strict=True)), ids=lambda value: repr(value)[:30]
)
def test_tokenizer_ids_equal_reference_ids(tokenizer, text, expected):
    assert tokenizer(text, padding="max_length", truncation=True, max_length=32)["input_ids"] == expected


def test_auto_tokenizer_of_a_saved_folder_gives_reference_ids_as_one_batch(saved_folder):
    tokenizer = AutoTokenizer.from_pretrained(saved_folder)
    assert type(tokenizer) is ViCLIPTokenizer
    batch = tokenizer(ALL_CAPTIONS, padding="max_length", truncation=True, max_length=32, return_tensors="pt")
    assert batch["input_ids"].tolist() == ALL_IDS
    lengths = [32 - ids[::-1].index(49407) for ids in ALL_IDS]
    assert batch["attention_mask"].tolist() == [[1] * length + [0] * (32 - length) for length in lengths]


def test_processor_gives_the_tokenizer_ids_for_every_caption(saved_folder):
    processor = AutoProcessor.from_pretrained(saved_folder)
    assert type(processor.tokenizer) is ViCLIPTokenizer
    assert processor(text=ALL_CAPTIONS)["input_ids"].tolist() == ALL_IDS


def test_processor_cleans_only_through_its_tokenizer(processor, monkeypatch):
    monkeypatch.setattr(ViCLIPTokenizer, "_clean", staticmethod(lambda text, normalize_captions: text))
    uncleaned = processor(text="A Dog &amp; a cat!!", return_tensors=None)["input_ids"][0]
    assert uncleaned != reference_token_ids("A Dog &amp; a cat!!")


def test_saved_folder_loads_its_tokenizer_with_remote_code_in_a_process_that_never_imports_viclip(
    saved_folder, tmp_path
):
    (tmp_path / "captions.json").write_text(json.dumps(ALL_CAPTIONS))
    output = run_fresh_python(
        f"""
        import json, sys
        from transformers import AutoTokenizer
        tokenizer = AutoTokenizer.from_pretrained({str(saved_folder)!r}, trust_remote_code=True)
        captions = json.load(open("captions.json"))
        print(json.dumps({{
            "viclip_imported": any(name == "viclip" or name.startswith("viclip.") for name in sys.modules),
            "class": type(tokenizer).__name__,
            "input_ids": tokenizer(captions, padding="max_length", truncation=True, max_length=32)["input_ids"],
        }}))
        """,
        cwd=str(tmp_path),
    )
    result = json.loads(output.strip().splitlines()[-1])
    assert result["viclip_imported"] is False
    assert result["class"] == "ViCLIPTokenizer"
    assert result["input_ids"] == ALL_IDS


def test_saved_tokenizer_files_name_the_class_and_carry_its_code(saved_folder):
    config = json.loads((saved_folder / "tokenizer_config.json").read_text())
    assert config["tokenizer_class"] == "ViCLIPTokenizer"
    assert config["auto_map"]["AutoTokenizer"][0] == "tokenization_viclip.ViCLIPTokenizer"
    assert (saved_folder / "tokenization_viclip.py").is_file()


def test_clip_tokenizer_refuses_a_saved_viclip_folder_naming_the_class_to_load_it_with(saved_folder):
    # CLIPTokenizer would read the same vocabulary but skip the cleaning and match "!" as padding: other ids
    with pytest.raises(TypeError, match="ViCLIPTokenizer.*AutoTokenizer.from_pretrained"):
        CLIPTokenizer.from_pretrained(saved_folder)


def test_resaved_tokenizer_folder_still_refuses_clip_tokenizer_and_reloads_as_viclip(saved_folder, tmp_path):
    reloaded = ViCLIPTokenizer.from_pretrained(saved_folder)
    assert reloaded.chat_control_tokens is None
    reloaded.save_pretrained(tmp_path)
    batch = ViCLIPTokenizer.from_pretrained(tmp_path)(ALL_CAPTIONS, padding="max_length", truncation=True)
    assert batch["input_ids"] == ALL_IDS
    with pytest.raises(TypeError, match="ViCLIPTokenizer"):
        CLIPTokenizer.from_pretrained(tmp_path)


def test_special_token_words_map_to_their_ids_and_glued_ones_stay_text(tokenizer):
    ids = tokenizer(["a <|endoftext|> b", "a!<|endoftext|>"])["input_ids"]
    assert ids[0] == [49406, 320, 49407, 321, 49407]
    assert 49407 not in ids[1][1:-1]  # "!<|" is one word of the reference's splitting: no end token inside
    assert 49407 not in tokenizer("a <|endoftext|> b", split_special_tokens=True)["input_ids"][1:-1]


def test_added_special_tokens_are_matched_as_written_before_cleaning():
    tokenizer = ViCLIPTokenizer()
    tokenizer.add_tokens(["[VIDEO]"], special_tokens=True)
    ids = tokenizer("A [VIDEO] &amp; Dog")["input_ids"]
    assert ids == [49406, 320, 49408, 261, 1929, 49407]
    assert tokenizer.decode(ids, skip_special_tokens=True) == "a & dog"


def test_special_token_words_in_text_pairs_are_refused(tokenizer):
    with pytest.raises(ValueError, match="split_special_tokens=True"):
        tokenizer("a <|endoftext|>", "b")


def test_normalize_captions_is_a_tokenizer_argument(tokenizer):
    normalized = tokenizer("Slow-motion: a dog/cat!", normalize_captions=True)["input_ids"]
    assert normalized == tokenizer("slow motion a dog cat")["input_ids"]
    assert tokenizer("Slow-motion: a dog/cat!")["input_ids"] != normalized


def test_offsets_are_refused_because_the_text_is_rewritten(tokenizer):
    with pytest.raises(ValueError, match="cleaned text"):
        tokenizer("A Dog", return_offsets_mapping=True)


def _indexing_warnings(call) -> str:
    with CaptureLogger(logging.get_logger("transformers")) as captured:
        call()
    return "indexing errors" if "indexing errors" in captured.out else ""


def test_truncated_text_gives_no_indexing_errors_warning(saved_folder):
    long_caption = ADDED_CAPTIONS[-2]
    tokenizer = AutoTokenizer.from_pretrained(saved_folder)
    assert _indexing_warnings(lambda: tokenizer(long_caption, truncation=True, max_length=32)) == ""
    assert _indexing_warnings(lambda: tokenizer(long_caption, padding="max_length", truncation=True)) == ""
    assert _indexing_warnings(lambda: tokenizer(long_caption + " <|endoftext|>", truncation=True)) == ""
    assert _indexing_warnings(lambda: AutoProcessor.from_pretrained(saved_folder)(text=long_caption)) == ""
    # the warning does reach the capture when the text is not truncated
    assert _indexing_warnings(lambda: AutoTokenizer.from_pretrained(saved_folder)(long_caption)) == "indexing errors"


def test_decode_drops_padding_and_shows_the_start_and_end_tokens(tokenizer):
    ids = tokenizer("A Dog &amp; a cat!!", padding="max_length", truncation=True)["input_ids"]
    assert ids[-1] == 0
    assert tokenizer.decode(ids) == "<|startoftext|>a dog & a cat !! <|endoftext|>"
    assert tokenizer.decode(ids, skip_special_tokens=True) == "a dog & a cat !!"


def test_decode_keeps_exclamation_marks_that_are_text(tokenizer):
    ids = tokenizer("wow!~ yes", padding="max_length")["input_ids"]
    assert 0 in ids[1 : ids.index(49407)]  # "!" before "~" is token 0, the pad id, inside the caption
    assert tokenizer.decode(ids, skip_special_tokens=True) == "wow !~ yes"
    assert tokenizer.convert_ids_to_tokens(ids, skip_special_tokens=True) == ["wow</w>", "!", "~</w>", "yes</w>"]


def test_batch_decode_of_processor_output_drops_padding_on_either_side(processor, tokenizer):
    right = processor(text=["a man", "wow!~"])["input_ids"]
    assert isinstance(right, torch.Tensor)
    assert processor.batch_decode(right, skip_special_tokens=True) == ["a man", "wow !~"]
    left = tokenizer(["a man", "a man is playing"], padding="max_length", padding_side="left")["input_ids"]
    assert left[0][:2] == [0, 0]
    assert tokenizer.batch_decode(left) == [
        "<|startoftext|>a man <|endoftext|>",
        "<|startoftext|>a man is playing <|endoftext|>",
    ]


def test_folder_saved_with_a_plain_clip_tokenizer_gives_reference_ids_through_the_processor(saved_folder, tmp_path):
    # A folder written before ViCLIPTokenizer existed: the same vocabulary saved by a plain CLIPTokenizer
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    for name in ("config.json", "processor_config.json", "processing_viclip.py", "video_processing_viclip.py"):
        (legacy / name).write_bytes((saved_folder / name).read_bytes())
    vocab, merges = load_clip_vocab_and_merges()
    CLIPTokenizer(
        vocab=dict(vocab),
        merges=list(merges),
        unk_token="<|endoftext|>",
        pad_token="!",
        model_max_length=32,
        split_special_tokens=True,
    ).save_pretrained(legacy)
    assert json.loads((legacy / "tokenizer_config.json").read_text())["tokenizer_class"] == "CLIPTokenizer"

    for processor in (AutoProcessor.from_pretrained(legacy), ViCLIPProcessor.from_pretrained(legacy)):
        assert type(processor.tokenizer) is ViCLIPTokenizer
        assert processor(text=ALL_CAPTIONS)["input_ids"].tolist() == ALL_IDS
