# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""
Worker of `test_distributed_loss.py`, launched by `torchrun --nproc_per_node 2` on the CPU (gloo).

Each rank takes its slice of a fixed global batch, runs a small two-tower model wrapped in DDP whose forward returns
`viclip_contrastive_loss`, and back-propagates. Rank 0 writes the mean loss over ranks and the (DDP-averaged) gradients
to `OUT_DIR/<case>.pt`; the test compares them with one process fed the whole batch (`single_process_result`).
"""

import sys
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn

from viclip.losses import viclip_contrastive_loss


# name -> rows per rank; the global batch is the concatenation in rank order.
CASES = {"even": (4, 4), "uneven": (5, 2)}


class TwoTowers(nn.Module):
    """Linear video and text encoders, a learnable logit scale, and the contrastive loss in `forward`."""

    def __init__(self):
        super().__init__()
        self.video = nn.Linear(12, 8)
        self.text = nn.Linear(10, 8)
        self.logit_scale = nn.Parameter(torch.tensor(2.5))

    def forward(self, video_inputs: torch.Tensor, text_inputs: torch.Tensor) -> torch.Tensor:
        video_embeds = nn.functional.normalize(self.video(video_inputs), dim=-1)
        text_embeds = nn.functional.normalize(self.text(text_inputs), dim=-1)
        return viclip_contrastive_loss(video_embeds, text_embeds, self.logit_scale.clamp(max=4.6052).exp())


def build_problem(total_rows: int) -> tuple[TwoTowers, torch.Tensor, torch.Tensor]:
    """The same model and global batch on every rank and in the single-process reference."""
    torch.manual_seed(0)
    model = TwoTowers().double()
    video_inputs = torch.randn(total_rows, 12, dtype=torch.float64)
    text_inputs = torch.randn(total_rows, 10, dtype=torch.float64)
    return model, video_inputs, text_inputs


def single_process_result(case: str) -> dict:
    """Loss and gradients of one process holding the concatenated batch (no process group)."""
    model, video_inputs, text_inputs = build_problem(sum(CASES[case]))
    loss = model(video_inputs, text_inputs)
    loss.backward()
    return {"loss": loss.detach(), "grads": {name: p.grad.clone() for name, p in model.named_parameters()}}


def main(out_dir: Path) -> None:
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    for case, rows in CASES.items():
        model, video_inputs, text_inputs = build_problem(sum(rows))
        start = sum(rows[:rank])
        local = slice(start, start + rows[rank])
        ddp_model = nn.parallel.DistributedDataParallel(model)
        loss = ddp_model(video_inputs[local], text_inputs[local])
        loss.backward()
        mean_loss = loss.detach().clone()
        dist.all_reduce(mean_loss)
        mean_loss /= dist.get_world_size()
        if rank == 0:
            grads = {name: p.grad.clone() for name, p in model.named_parameters()}
            torch.save({"loss": mean_loss, "grads": grads}, out_dir / f"{case}.pt")
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
