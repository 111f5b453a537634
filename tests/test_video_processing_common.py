# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""transformers' own `VideoProcessingTestMixin` (the installed release's tests/test_video_processing_common.py) applied
to `ViCLIPVideoProcessor` with a tiny tester, as the video processor tests of transformers' models do it (see
tests/models/videomae/test_video_processing_videomae.py there)."""

import unittest

import numpy as np
import torch
from transformers.image_utils import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from transformers.video_utils import VideoMetadata

from tests.common_suites import import_common_suite
from viclip import ViCLIPVideoProcessor


video_processing_common = import_common_suite("test_video_processing_common")
VideoProcessingTestMixin = video_processing_common.VideoProcessingTestMixin
prepare_video_inputs = video_processing_common.prepare_video_inputs


class ViCLIPVideoProcessingTester:
    """Settings of a tiny processor (CLIP-style shortest-edge resize and centre crop, as the mixin's
    `test_video_processor_from_dict_with_kwargs` expects) and the videos to feed it."""

    def __init__(
        self,
        parent,
        batch_size=5,
        num_frames=8,
        num_channels=3,
        min_resolution=30,
        max_resolution=80,
        size=None,
        crop_size=None,
    ):
        self.parent = parent
        self.batch_size = batch_size
        self.num_frames = num_frames
        self.num_channels = num_channels
        self.min_resolution = min_resolution
        self.max_resolution = max_resolution
        self.size = size if size is not None else {"shortest_edge": 20}
        self.crop_size = crop_size if crop_size is not None else {"height": 18, "width": 18}

    def prepare_video_processor_dict(self):
        return {
            "do_resize": True,
            "size": self.size,
            "default_to_square": False,
            "do_center_crop": True,
            "crop_size": self.crop_size,
            "do_rescale": True,
            "rescale_factor": 1 / 255,
            "do_normalize": True,
            "image_mean": IMAGENET_DEFAULT_MEAN,
            "image_std": IMAGENET_DEFAULT_STD,
            "do_convert_rgb": True,
            "num_frames": self.num_frames,
        }

    def expected_output_video_shape(self, videos):
        return self.num_frames, self.num_channels, self.crop_size["height"], self.crop_size["width"]

    def prepare_video_inputs(self, equal_resolution=False, return_tensors="pil"):
        return prepare_video_inputs(
            batch_size=self.batch_size,
            num_frames=self.num_frames,
            num_channels=self.num_channels,
            min_resolution=self.min_resolution,
            max_resolution=self.max_resolution,
            equal_resolution=equal_resolution,
            return_tensors=return_tensors,
        )


class ViCLIPVideoProcessingTest(VideoProcessingTestMixin, unittest.TestCase):
    fast_video_processing_class = ViCLIPVideoProcessor
    input_name = "pixel_values"

    def setUp(self):
        super().setUp()
        self.video_processor_tester = ViCLIPVideoProcessingTester(self)

    @property
    def video_processor_dict(self):
        return self.video_processor_tester.prepare_video_processor_dict()

    def test_video_processor_properties(self):
        video_processor = self.fast_video_processing_class(**self.video_processor_dict)
        for name in ("do_resize", "size", "do_center_crop", "center_crop", "do_normalize", "image_mean", "image_std"):
            self.assertTrue(hasattr(video_processor, name), name)
        for name in ("do_convert_rgb", "do_sample_frames", "num_frames", "fps", "sampling", "model_input_names"):
            self.assertTrue(hasattr(video_processor, name), name)
        self.assertIn("pixel_values", video_processor.model_input_names)

    def test_call_sample_frames(self):
        """The mixin's test, but for its last check: asked for more frames than a video has, the mixin expects an
        error, while ViCLIP keeps the reference's behaviour and repeats the last frame (a video shorter than the
        model's frame count is a normal input, e.g. a short InternVid clip)."""
        video_processor = self.fast_video_processing_class(**self.video_processor_dict)
        self.video_processor_tester.num_frames = 8
        videos = self.video_processor_tester.prepare_video_inputs(equal_resolution=False, return_tensors="torch")

        video_processor.do_sample_frames = False  # every frame is kept, whatever num_frames says
        self.assertEqual(video_processor(videos[0], return_tensors="pt", num_frames=3)[self.input_name].shape[1], 8)
        self.assertEqual(video_processor(videos, return_tensors="pt", num_frames=3)[self.input_name].shape[1], 8)

        video_processor.do_sample_frames = True
        self.assertEqual(video_processor(videos[0], return_tensors="pt", num_frames=3)[self.input_name].shape[1], 3)
        self.assertEqual(video_processor(videos, return_tensors="pt", num_frames=3)[self.input_name].shape[1], 3)

        with self.assertRaises(ValueError):  # sampling by fps needs the video's frame rate
            video_processor.sample_frames(metadata=VideoMetadata(total_num_frames=8), fps=3)
        for metadata in ([[{"duration": 2.0, "total_num_frames": 8, "fps": 4}]], [[VideoMetadata(8, fps=4)]]):
            encoded = video_processor(videos[0], return_tensors="pt", fps=3, video_metadata=metadata)[self.input_name]
            self.assertEqual(encoded.shape[1], 6)
            encoded = video_processor(videos, return_tensors="pt", fps=3, video_metadata=metadata * len(videos))[
                self.input_name
            ]
            self.assertEqual(encoded.shape[1], 6)

        # more frames than the video has: the last frame is repeated
        encoded = video_processor(videos[0], return_tensors="pt", num_frames=10)[self.input_name]
        self.assertEqual(encoded.shape[1], 10)
        torch.testing.assert_close(encoded[0, 7:], encoded[0, 7:8].expand(3, -1, -1, -1))

    def test_sampling_defaults_to_the_reference_segment_middles(self):
        video_processor = self.fast_video_processing_class(**self.video_processor_dict)
        indices = video_processor.sample_frames(VideoMetadata(total_num_frames=100), num_frames=4)
        self.assertEqual(indices.tolist(), [12, 37, 62, 87])
        video = np.random.default_rng(0).integers(0, 256, (100, 20, 20, 3), dtype=np.uint8)
        outputs = video_processor(video, num_frames=4, return_metadata=True)
        self.assertEqual(outputs["video_metadata"][0].frames_indices, [12, 37, 62, 87])
