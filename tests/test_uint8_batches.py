# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""uint8 batches: DataLoader workers send uint8 frames, the trainer normalises them on the device, and the model sees
exactly the float32 values of the processor's own normalisation."""

import pytest
import torch
from transformers import TrainingArguments

from viclip import ViCLIPConfig, ViCLIPModel
from viclip_train.data.annotation_dataset import SampleKey, VideoDataset
from viclip_train.data.annotations import load_annotations
from viclip_train.data.clips import normalize_pixel_values
from viclip_train.data.collator import VideoDataCollator
from viclip_train.data.synthetic import make_synthetic_corpus
from viclip_train.trainer import ViCLIPTrainer

from .conftest import tiny_config_kwargs
from .processing_helpers import tiny_processor


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return make_synthetic_corpus(
        tmp_path_factory.mktemp("corpus"), num_train=4, num_val=2, num_frames=8, frame_size=40
    )


def _datasets(corpus, train: bool):
    processor = tiny_processor()
    table = load_annotations(corpus.annotation_file("train"))
    common = {"video_root": corpus.root, "train": train, "seed": 3}
    return (
        VideoDataset(table, processor.video_processor, **common),
        VideoDataset(table, processor.video_processor, uint8_frames=True, **common),
        processor,
    )


@pytest.mark.parametrize("train", [False, True], ids=["evaluation transform", "training augmentation"])
def test_uint8_items_normalised_later_equal_the_float_items_exactly(corpus, train):
    float_dataset, uint8_dataset, processor = _datasets(corpus, train)
    for row in range(len(float_dataset)):
        expected = float_dataset[SampleKey(1, row)]["pixel_values"]
        raw = uint8_dataset[SampleKey(1, row)]["pixel_values"]
        assert raw.dtype == torch.uint8 and raw.shape == expected.shape
        assert torch.equal(normalize_pixel_values(raw, processor.video_processor), expected)


def test_a_uint8_batch_is_a_quarter_of_the_float_batch(corpus):
    float_dataset, uint8_dataset, processor = _datasets(corpus, train=True)
    collator = VideoDataCollator(processor)
    float_batch = collator([float_dataset[row] for row in range(4)])
    uint8_batch = collator([uint8_dataset[row] for row in range(4)])
    assert uint8_batch["pixel_values"].nbytes * 4 == float_batch["pixel_values"].nbytes


def test_the_trainer_gives_the_model_the_normalised_float_values(corpus, tmp_path):
    float_dataset, uint8_dataset, processor = _datasets(corpus, train=True)
    collator = VideoDataCollator(processor)
    arguments = TrainingArguments(tmp_path, use_cpu=True, report_to="none", remove_unused_columns=False)
    model = ViCLIPModel(ViCLIPConfig(**tiny_config_kwargs()))
    trainer = ViCLIPTrainer(model=model, args=arguments, processing_class=processor)
    prepared = trainer._prepare_inputs(collator([uint8_dataset[row] for row in range(4)]))
    expected = collator([float_dataset[row] for row in range(4)])["pixel_values"]
    assert prepared["pixel_values"].dtype == torch.float32
    assert torch.equal(prepared["pixel_values"], expected)


def test_uint8_batches_without_a_processor_are_an_error_saying_what_to_pass(corpus, tmp_path):
    _, uint8_dataset, processor = _datasets(corpus, train=False)
    arguments = TrainingArguments(tmp_path, use_cpu=True, report_to="none", remove_unused_columns=False)
    trainer = ViCLIPTrainer(model=ViCLIPModel(ViCLIPConfig(**tiny_config_kwargs())), args=arguments)
    with pytest.raises(ValueError, match="processing_class"):
        trainer._prepare_inputs(VideoDataCollator(processor)([uint8_dataset[0]]))
