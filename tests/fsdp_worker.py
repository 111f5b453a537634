# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""
Worker of `test_fsdp.py`, launched by `torchrun --nproc_per_node 2` on the CPU (gloo).

Shards a tiny `ViCLIPModel` with FSDP2 as accelerate does for `--fsdp "full_shard auto_wrap"` with
`transformer_layer_cls_to_wrap: ["ViCLIPEncoderLayer"]` (`fully_shard` on every encoder layer, then on the root),
feeds each rank its half of a fixed global batch, back-propagates the contrastive loss and takes one SGD step. Rank 0
writes the loss and the updated full parameters to `OUT_DIR/fsdp.pt`; the test compares them with one unsharded
process fed the whole batch (`single_process_step`).
"""

import sys
from pathlib import Path

import torch
import torch.distributed as dist
from torch.distributed.fsdp import fully_shard

from tests.conftest import tiny_config_kwargs
from viclip import ViCLIPConfig, ViCLIPModel
from viclip.modeling_viclip import ViCLIPEncoderLayer


GLOBAL_BATCH = 4
LEARNING_RATE = 0.1


def build_problem() -> tuple[ViCLIPModel, torch.Tensor, torch.Tensor]:
    """The same model and global batch on every rank and in the single-process reference."""
    torch.manual_seed(0)
    model = ViCLIPModel(ViCLIPConfig(**tiny_config_kwargs(num_frames=2))).train()
    videos = torch.randn(GLOBAL_BATCH, 2, 3, 32, 32)
    input_ids = torch.randint(1, 400, (GLOBAL_BATCH, 8))
    input_ids[:, 0], input_ids[:, -1] = 49406, 49407
    return model, videos, input_ids


def train_step(model: ViCLIPModel, videos: torch.Tensor, input_ids: torch.Tensor) -> torch.Tensor:
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)
    loss = model(input_ids=input_ids, pixel_values=videos, return_loss=True).loss
    loss.backward()
    optimizer.step()
    return loss.detach()


def single_process_step() -> dict:
    model, videos, input_ids = build_problem()
    loss = train_step(model, videos, input_ids)
    return {"loss": loss, "parameters": {name: p.detach().clone() for name, p in model.named_parameters()}}


def main(out_dir: Path) -> None:
    dist.init_process_group("gloo")
    rank, world_size = dist.get_rank(), dist.get_world_size()
    model, videos, input_ids = build_problem()
    for module in model.modules():
        if isinstance(module, ViCLIPEncoderLayer):
            fully_shard(module)
    fully_shard(model)
    rows = slice(rank * GLOBAL_BATCH // world_size, (rank + 1) * GLOBAL_BATCH // world_size)
    loss = train_step(model, videos[rows], input_ids[rows])
    dist.all_reduce(loss)
    parameters = {name: p.full_tensor().detach().clone() for name, p in model.named_parameters()}
    if rank == 0:
        torch.save({"loss": loss / world_size, "parameters": parameters}, out_dir / "fsdp.pt")
    dist.destroy_process_group()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
