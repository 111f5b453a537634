# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""
What the training library does across processes, each a no-op in a single process: adding up counts
([`sum_across_processes`]), agreeing on a flag ([`agree_across_processes`]), collecting a small Python value from
every process ([`all_processes`]), collecting per-sample evaluation outputs ([`gather_rows`]) and tearing the process
group down ([`end_distributed_run`]).

Processes may hold different numbers of rows in an evaluation batch (a process skipped unreadable videos), while
collective gathers need equal shapes: [`gather_rows`] pads and trims them with the contrastive loss's own gather
([`viclip.losses.all_gather_rows`], the one home of pad-gather-trim). A distributed sampler also repeats a few samples
so that every process gets full batches; [`first_occurrences`] keeps each row once.
"""

from typing import Any

import torch
import torch.distributed as dist

from viclip.losses import all_gather_rows, is_distributed, process_row_counts


def sum_across_processes(counts: torch.Tensor) -> torch.Tensor:
    """`counts` added up over every process (a collective); `counts` itself in a single process."""
    if is_distributed():
        dist.all_reduce(counts)
    return counts


def agree_across_processes(value: bool, *, everyone: bool, device: torch.device | str = "cpu") -> bool:
    """Whether `value` holds on every process (`everyone=True`) or on any (`everyone=False`); `value` itself in a
    single process. A collective: every process must call it."""
    if not is_distributed():
        return value
    flag = torch.tensor(int(value), device=device)
    operation = dist.ReduceOp.MIN if everyone else dist.ReduceOp.MAX
    dist.all_reduce(flag, op=operation)
    return bool(flag.item())


def all_processes(value: Any) -> list[Any]:
    """`value` from every process (in rank order), pickled through the process group; `[value]` in a single
    process. A collective."""
    if not is_distributed():
        return [value]
    gathered = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, value)
    return gathered


@torch.no_grad()
def gather_rows(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """
    Concatenates, in process order, the rows of `tensors` (all with the same first dimension on one process, which may
    differ between processes, zero included). A collective; `tensors` as they are in a single process.

    Returns:
        `dict[str, torch.Tensor]`: the rows of every process, without padding.
    """
    if not is_distributed():
        return tensors
    first = next(iter(tensors.values()))
    sizes = process_row_counts(first.shape[0], first.device)
    return {name: all_gather_rows(value, sizes) for name, value in tensors.items()}


def first_occurrences(rows: torch.Tensor) -> torch.Tensor:
    """Positions of the first occurrence of each value of `rows` (a 1-d tensor of dataset rows), in row order."""
    order = torch.argsort(rows, stable=True)
    first = torch.ones_like(order, dtype=torch.bool)
    first[1:] = rows[order][1:] != rows[order][:-1]
    return order[first]


def end_distributed_run() -> None:
    """Waits for every process and tears the process group down, so that no process exits with collectives alive
    (gloo aborts a process that leaves them); a no-op without a process group."""
    if dist.is_available() and dist.is_initialized():  # a group of one process is torn down too
        dist.barrier()
        dist.destroy_process_group()


__all__ = [
    "agree_across_processes",
    "all_processes",
    "end_distributed_run",
    "first_occurrences",
    "gather_rows",
    "is_distributed",
    "sum_across_processes",
]
