# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""Two simulated nodes: `torchrun --nnodes 2` twice on this machine (c10d rendezvous on 127.0.0.1, one process each,
gloo) train `run_pretrain.py` from tar shards; the nodes see disjoint samples and the distributed loss equals the loss
of one process holding both batches."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from viclip import ViCLIPConfig, ViCLIPModel
from viclip_train.data.synthetic import make_synthetic_corpus, write_corpus_shards

from .conftest import tiny_config_kwargs


TESTS_DIR = Path(__file__).parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow  # four interpreters (two launchers, two workers) start torch on 2 cores: about 50 s
def test_two_nodes_read_disjoint_shard_samples_and_their_loss_is_one_process_holding_both_batches(tmp_path):
    corpus = make_synthetic_corpus(tmp_path / "corpus", num_train=8, num_val=2, num_frames=8, frame_size=32)
    shards = write_corpus_shards(corpus, samples_per_shard=3)
    model = tiny_config_kwargs()
    config = {
        "train_shards": [str(shards["train"])],
        "config_name": "viclip-b16",
        "config_overrides": {key: model[key] for key in ("projection_dim", "text_config", "vision_config")},
        "mask_ratio": 0.0,
        "output_dir": str(tmp_path / "out"),
        "do_train": True,
        "max_steps": 1,
        "per_device_train_batch_size": 3,
        "save_strategy": "no",
        "dataloader_num_workers": 0,
        "report_to": "none",
        "seed": 11,
    }
    (tmp_path / "config.json").write_text(json.dumps(config))
    port = _free_port()
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(TESTS_DIR.parent)}
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc_per_node", "1",
        "--rdzv_backend", "c10d", "--rdzv_endpoint", f"127.0.0.1:{port}", "--rdzv_id", "viclip-two-nodes",
        str(TESTS_DIR / "multinode_shard_worker.py"), str(tmp_path), str(tmp_path / "config.json"),
    ]  # fmt: skip
    nodes = [
        subprocess.Popen(
            command, env=environment, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for _ in range(2)
    ]
    outputs = [node.communicate(timeout=300)[0] for node in nodes]
    assert [node.returncode for node in nodes] == [0, 0], "\n".join(output[-3000:] for output in outputs)

    ranks = [torch.load(tmp_path / f"rank{rank}.pt") for rank in range(2)]
    indices = [set(rank["index"].tolist()) for rank in ranks]
    assert len(indices[0]) == len(indices[1]) == 3 and not indices[0] & indices[1]

    single = ViCLIPModel(ViCLIPConfig(**{**tiny_config_kwargs(), "vision_config": {**model["vision_config"]}}))
    single.load_state_dict(ranks[0]["state_dict"])
    single.train()
    both = {name: torch.cat([rank["inputs"][name] for rank in ranks]) for name in ranks[0]["inputs"]}
    loss = single(**both, return_loss=True).loss
    # each node's loss is its own rows' share of the loss over the gathered batch; the Trainer's DDP averages them
    torch.testing.assert_close(loss.detach(), (ranks[0]["loss"] + ranks[1]["loss"]) / 2, rtol=1e-6, atol=1e-6)
