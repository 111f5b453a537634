# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""
Collecting per-sample evaluation outputs from every process, without gradient.

Processes may hold different numbers of rows in a batch (a process skipped unreadable videos), while collective
gathers need equal shapes: [`gather_rows`] pads every process's rows to the largest count, gathers, and drops the
padding. A distributed sampler also repeats a few samples so that every process gets full batches;
[`first_occurrences`] keeps each annotation row once.
"""

from collections.abc import Callable

import torch
import torch.distributed as dist


def _is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


@torch.no_grad()
def gather_rows(
    tensors: dict[str, torch.Tensor], gather: Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]] | None
) -> dict[str, torch.Tensor]:
    """
    Concatenates, in process order, the rows of `tensors` (all with the same first dimension on one process, which may
    differ between processes, zero included).

    Args:
        tensors (`dict[str, torch.Tensor]`): this process's rows.
        gather (`Callable`, *optional*): gathers a dictionary of tensors of equal shapes from every process and
            concatenates them along the first dimension, such as `accelerator.gather` (not `gather_for_metrics`,
            whose trimming of repeated samples counts rows and would cut real ones after padding; use
            [`first_occurrences`] instead). `None`, or a single process: the rows are returned as they are.

    Returns:
        `dict[str, torch.Tensor]`: the rows of every process, padding removed.
    """
    if gather is None or not _is_distributed():
        return tensors
    rows = next(iter(tensors.values())).shape[0]
    device = next(iter(tensors.values())).device
    most = torch.tensor(rows, device=device)
    dist.all_reduce(most, op=dist.ReduceOp.MAX)
    missing = int(most) - rows
    padded = {
        name: torch.cat([value, value.new_zeros((missing, *value.shape[1:]))]) for name, value in tensors.items()
    }
    padded["_valid"] = torch.arange(int(most), device=device) < rows
    gathered = gather(padded)
    valid = gathered.pop("_valid").bool()
    return {name: value[valid] for name, value in gathered.items()}


def first_occurrences(rows: torch.Tensor) -> torch.Tensor:
    """Positions of the first occurrence of each value of `rows` (a 1-d tensor of annotation rows), in row order."""
    order = torch.argsort(rows, stable=True)
    first = torch.ones_like(order, dtype=torch.bool)
    first[1:] = rows[order][1:] != rows[order][:-1]
    return order[first]


__all__ = ["first_occurrences", "gather_rows"]
