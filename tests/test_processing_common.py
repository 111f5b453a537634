# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""transformers' own `ProcessorTesterMixin` (from the installed release) applied to ViCLIPProcessor, with a tiny
tester as a model merged into transformers would have it: a tiny CLIP-layout vocabulary and a 32x32 video processor.

Every skip below is one CLIP's or X-CLIP's processor tests also make, or says why it does not apply to ViCLIP.
"""

import unittest

from tests.common_suites import import_common_suite
from tests.processing_helpers import tiny_viclip_tokenizer
from viclip import ViCLIPProcessor, ViCLIPVideoProcessor


ProcessorTesterMixin = import_common_suite("test_processing_common").ProcessorTesterMixin


class ViCLIPProcessorTest(ProcessorTesterMixin, unittest.TestCase):
    processor_class = ViCLIPProcessor
    videos_input_name = "pixel_values"

    @classmethod
    def _setup_tokenizer(cls):
        return tiny_viclip_tokenizer()

    @classmethod
    def _setup_video_processor(cls):
        return ViCLIPVideoProcessor(size={"height": 32, "width": 32}, num_frames=4)
