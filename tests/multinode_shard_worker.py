# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""
Worker of `test_multinode.py`: one "node" of a two-node `torchrun` launch (c10d rendezvous on 127.0.0.1, one process,
gloo), running `run_pretrain.py` on tar shards for one step. It writes, for its rank, the annotation indices of its
first batch, the model inputs the loss saw (normalised on the device from uint8 batches), the weights before the step
and the loss, to `OUT_DIR/rank<N>.pt`.

    python -m torch.distributed.run --nnodes 2 --nproc_per_node 1 --rdzv_backend c10d \
        --rdzv_endpoint 127.0.0.1:PORT tests/multinode_shard_worker.py OUT_DIR CONFIG.json
"""

import os
import sys

import torch

import run_pretrain
from viclip_train.data.collator import INDEX_KEY
from viclip_train.trainer import ViCLIPTrainer


OUT_DIR, CONFIG = sys.argv[1], sys.argv[2]
captured = {}
training_step = ViCLIPTrainer.training_step
compute_loss = ViCLIPTrainer.compute_loss


def recording_training_step(self, model, inputs, num_items_in_batch=None):
    if "index" not in captured:
        captured["index"] = inputs[INDEX_KEY].clone()
        captured["state_dict"] = {
            name: value.detach().clone() for name, value in self.accelerator.unwrap_model(model).state_dict().items()
        }
    return training_step(self, model, inputs, num_items_in_batch)


def recording_compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
    result = compute_loss(self, model, inputs, return_outputs, num_items_in_batch)
    if "loss" not in captured:
        captured["inputs"] = {name: value.detach().cpu() for name, value in inputs.items() if torch.is_tensor(value)}
        captured["loss"] = (result[0] if return_outputs else result).detach().cpu()
        torch.save(captured, os.path.join(OUT_DIR, f"rank{self.args.process_index}.pt"))
    return result


ViCLIPTrainer.training_step = recording_training_step
ViCLIPTrainer.compute_loss = recording_compute_loss
sys.argv = ["run_pretrain.py", CONFIG]
run_pretrain.main()
run_pretrain.end_distributed_run()
