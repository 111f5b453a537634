# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""FSDP2, the Trainer's default sharding (`--fsdp ... --fsdp_config '{"transformer_layer_cls_to_wrap":
["ViCLIPEncoderLayer"]}'`), shards the dual encoder and trains it as one unsharded process would: two CPU processes
under torchrun (gloo) take one step and end with the single process's weights."""

import os
import subprocess
import sys
from pathlib import Path

import torch

from viclip import ViCLIPConfig, ViCLIPModel
from viclip.modeling_viclip import ViCLIPEncoderLayer

from .conftest import tiny_config_kwargs
from .fsdp_worker import single_process_step


TESTS_DIR = Path(__file__).parent


def test_every_parameter_has_a_dimension_fsdp2_can_shard():
    model = ViCLIPModel(ViCLIPConfig(**tiny_config_kwargs()))
    assert [name for name, parameter in model.named_parameters() if parameter.ndim == 0] == []


def test_input_embeddings_are_the_text_token_table_fsdp2_preparation_asks_for():
    model = ViCLIPModel(ViCLIPConfig(**tiny_config_kwargs()))
    assert model.get_input_embeddings() is model.text_model.embeddings.token_embedding
    assert ViCLIPEncoderLayer.__name__ in model._no_split_modules


def test_a_training_step_sharded_over_two_processes_equals_one_unsharded_process(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(TESTS_DIR.parent)}
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
        str(TESTS_DIR / "fsdp_worker.py"), str(tmp_path),
    ]  # fmt: skip
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    sharded = torch.load(tmp_path / "fsdp.pt")
    expected = single_process_step()
    torch.testing.assert_close(sharded["loss"], expected["loss"], rtol=1e-5, atol=1e-6)
    assert sharded["parameters"].keys() == expected["parameters"].keys()
    for name, parameter in expected["parameters"].items():
        torch.testing.assert_close(sharded["parameters"][name], parameter, rtol=1e-4, atol=1e-6, msg=name)
