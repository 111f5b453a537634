"""Timing of whole training steps, shared by `bench_pretrain.py` and `bench_classification.py`: batches are read in
the main process so that reading videos and computing are timed apart."""

import time
from collections.abc import Callable, Iterable

import torch

from viclip_train.data.collator import NON_MODEL_KEYS
from viclip_train.trainer import decay_parameter_names


def adamw_with_decay_groups(model: torch.nn.Module, weight_decay: float, **adamw_kwargs) -> torch.optim.AdamW:
    """AdamW over the trainable parameters, with weight decay only where `ViCLIPTrainer` puts it."""
    decayed = set(decay_parameter_names(model))
    parameters = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    return torch.optim.AdamW(
        [
            {"params": [p for name, p in parameters if name in decayed], "weight_decay": weight_decay},
            {"params": [p for name, p in parameters if name not in decayed], "weight_decay": 0.0},
        ],
        **adamw_kwargs,
    )


def time_training_steps(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    batches: Iterable[dict[str, torch.Tensor]],
    steps: int,
    loss_of: Callable[[dict[str, torch.Tensor]], torch.Tensor],
) -> dict[str, float]:
    """
    Runs one warm-up step and `steps` timed steps (read a batch, forward, backward, optimizer step) and returns
    `seconds_per_step`, `clips_per_second`, and the `data_share` / `model_share` of the time.
    """
    batches = iter(batches)
    data_seconds = model_seconds = 0.0
    clips = 0
    for step in range(steps + 1):
        start = time.perf_counter()
        batch = next(batches)
        for key in NON_MODEL_KEYS:
            batch.pop(key, None)
        loaded = time.perf_counter()
        loss_of(batch).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        done = time.perf_counter()
        if step > 0:  # the first step warms up allocators and kernels
            data_seconds += loaded - start
            model_seconds += done - loaded
            clips += batch["pixel_values"].shape[0]
    total = data_seconds + model_seconds
    return {
        "seconds_per_step": total / steps,
        "clips_per_second": clips / total,
        "data_share": data_seconds / total,
        "model_share": model_seconds / total,
    }
