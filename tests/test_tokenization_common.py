# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""transformers' own `TokenizerTesterMixin` (from the installed release) applied to ViCLIPTokenizer, with a tiny
CLIP-layout vocabulary as transformers' CLIP tokenizer tests use (byte tokens and three merges).

The integration expectations (tokens, ids and decoded text of the suite's integration string) are computed by
`tests.processing_helpers.reference_tokens` from the reference's rules, independently of the package. The reference
ids with the full CLIP vocabulary are pinned by tests/test_tokenizer.py.
"""

import tempfile
import unittest

from tests.common_suites import import_common_suite
from tests.processing_helpers import (
    TINY_MERGES,
    _reference_vocabulary,
    reference_decode,
    reference_tokens,
    tiny_viclip_tokenizer,
)
from viclip import ViCLIPTokenizer


TokenizerTesterMixin = import_common_suite("test_tokenization_common").TokenizerTesterMixin


class ViCLIPTokenizationTest(TokenizerTesterMixin, unittest.TestCase):
    tokenizer_class = ViCLIPTokenizer
    integration_expected_tokens = reference_tokens(TokenizerTesterMixin.integration_test_input_string, TINY_MERGES)
    integration_expected_token_ids = [
        _reference_vocabulary(TINY_MERGES)[0][token] for token in integration_expected_tokens
    ]
    integration_expected_decoded_text = reference_decode(integration_expected_tokens)

    @classmethod
    def setUpClass(cls):
        # The mixin's own setUpClass reads tests/fixtures/sample_text.txt of the transformers sources, which the
        # fetched suites do not include, and loads `from_pretrained_id` from the Hub; the tiny tokenizer is saved
        # instead, and the integration checks load it from that folder.
        cls.tmpdirname = tempfile.mkdtemp()
        tiny_viclip_tokenizer().save_pretrained(cls.tmpdirname)
        cls.from_pretrained_id = [cls.tmpdirname]
        cls.tokenizers_list = [(cls.tokenizer_class, cls.tmpdirname, {})]
        cls._data = "This is a text with some words. Some more words, and a few numbers: 1, 22, 333!"
