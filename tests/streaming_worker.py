# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""
Worker of `test_streaming.py`'s two-process test: one process of a `torchrun --nproc_per_node 2` launch (gloo) running
`run_pretrain.py` on a streaming dataset. It records, per training step, the stream's epoch and the keys of the
examples in this process's batch, and writes them to `OUT_DIR/rank<N>.pt`; with KILL_AT_STEP, every process exits
at once (no clean-up, as a killed job) when that step is about to start.

    python -m torch.distributed.run --standalone --nproc_per_node 2 tests/streaming_worker.py OUT_DIR CONFIG.json \
        [KILL_AT_STEP]
"""

import os
import sys

import torch
from transformers import TrainerCallback

import run_pretrain
from viclip_train.data.collator import INDEX_KEY
from viclip_train.trainer import ViCLIPTrainer


OUT_DIR, CONFIG = sys.argv[1], sys.argv[2]
KILL_AT_STEP = int(sys.argv[3]) if len(sys.argv) > 3 else None
records = []
training_step = ViCLIPTrainer.training_step
trainer_init = ViCLIPTrainer.__init__


def recording_training_step(self, model, inputs, num_items_in_batch=None):
    records.append((self.train_dataset.data_epoch(0), inputs[INDEX_KEY].tolist()))  # the stream's epoch
    return training_step(self, model, inputs, num_items_in_batch)


class Kill(TrainerCallback):
    def on_step_begin(self, args, state, control, **kwargs):
        if state.global_step == KILL_AT_STEP:
            os._exit(17)


def init_with_kill(self, *args, **kwargs):
    trainer_init(self, *args, **kwargs)
    self.add_callback(Kill())


ViCLIPTrainer.training_step = recording_training_step
ViCLIPTrainer.__init__ = init_with_kill
sys.argv = ["run_pretrain.py", CONFIG]
run_pretrain.main()
torch.save(records, os.path.join(OUT_DIR, f"rank{int(os.environ['RANK'])}.pt"))
run_pretrain.end_distributed_run()
