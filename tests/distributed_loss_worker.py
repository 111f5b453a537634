# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""
Worker of `test_distributed_loss.py`, launched by `torchrun --nproc_per_node 2` on the CPU (gloo).

Each rank takes its slice of a fixed global batch, runs a small two-tower model wrapped in DDP whose forward returns
`viclip_contrastive_loss`, and back-propagates. Rank 0 writes the mean loss over ranks and the (DDP-averaged) gradients
to `OUT_DIR/<case>.pt`; the test compares them with one process fed the whole batch (`single_process_result`).

It also runs `evaluate_retrieval` over a validation set sharded unevenly (as when a process dropped unreadable
videos) and writes rank 0's metrics to `OUT_DIR/retrieval.pt`, and trains a tiny ViCLIP with `ViCLIPTrainer` on data
where some of one rank's batches are entirely unreadable (`TRAINER_CASES`): each rank writes its final weights, or
the error that stopped it, to `OUT_DIR/<case>.rank<N>.pt`.
"""

import sys
from pathlib import Path
from types import SimpleNamespace

import torch
import torch.distributed as dist
from torch import nn
from transformers import TrainingArguments

from tests.conftest import tiny_config_kwargs
from tests.processing_helpers import tiny_processor
from viclip import ViCLIPConfig, ViCLIPModel
from viclip.losses import viclip_contrastive_loss
from viclip_train.data.collator import VideoDataCollator
from viclip_train.data.skipping import SkippedSample, TooManySkippedVideosError
from viclip_train.eval.retrieval import evaluate_retrieval
from viclip_train.trainer import ViCLIPTrainer


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


class EmbeddingTowers(nn.Module):
    """Video and text "encoders" that return their inputs: the metrics then depend only on the data."""

    def __init__(self):
        super().__init__()
        self.unused = nn.Parameter(torch.zeros(()))

    def forward(self, input_ids, pixel_values, attention_mask):
        return SimpleNamespace(video_embeds=pixel_values.flatten(1), text_embeds=input_ids[:, 1:].float())


def retrieval_batches() -> list[list[dict[str, torch.Tensor]]]:
    """Per rank, a list of batches: rank 0 holds pairs 0-3 in one batch and 4 alone; rank 1 pairs 5-6 and 7-9."""
    torch.manual_seed(1)
    videos = torch.randn(10, 6)
    texts = videos + 0.8 * torch.randn(10, 6)
    input_ids = torch.cat([torch.zeros(10, 1), texts], dim=1)  # float "ids": the towers pass them through

    def batch(rows):
        return {"pixel_values": videos[rows], "input_ids": input_ids[rows], "attention_mask": torch.ones(len(rows))}

    return [[batch([0, 1, 2, 3]), batch([4])], [batch([5, 6]), batch([7, 8, 9])]]


# name -> (rows that cannot be read, max_failed_fraction). Batches of one, in row order: rank 0 reads the even rows,
# rank 1 the odd ones, so rank 1's share of every step ("every_step"), or of the second step only ("one_step"), is
# empty; with a lower tolerance ("stops") the run must stop on both ranks at the same step.
TRAINER_CASES = {"every_step": ({1, 3, 5}, 1.0), "one_step": ({3}, 1.0), "stops": ({1, 3, 5}, 0.4)}


class ClipsWithSomeUnreadable(torch.utils.data.Dataset):
    """Six random 4-frame clips with one caption; the rows in `unreadable` are skipped samples."""

    def __init__(self, unreadable: set[int]):
        self.unreadable = unreadable

    def __len__(self) -> int:
        return 6

    def __getitem__(self, row: int):
        if row in self.unreadable:
            return SkippedSample(index=row, video=f"videos/missing_{row}.mp4", reason="no file", error="OSError")
        generator = torch.Generator().manual_seed(row)
        return {
            "pixel_values": torch.randn(4, 3, 32, 32, generator=generator),
            "caption": "a red square",
            "index": row,
        }


def train_with_unreadable_rows(out_dir: Path, case: str) -> None:
    unreadable, max_failed_fraction = TRAINER_CASES[case]
    torch.manual_seed(0)
    model = ViCLIPModel(ViCLIPConfig(**tiny_config_kwargs()))
    args = TrainingArguments(
        output_dir=str(out_dir / case), per_device_train_batch_size=1, max_steps=3, optim="sgd", learning_rate=0.1,
        weight_decay=0.0, train_sampling_strategy="sequential", remove_unused_columns=False, save_strategy="no",
        report_to="none", use_cpu=True, disable_tqdm=True,
    )  # fmt: skip
    trainer = ViCLIPTrainer(
        model=model,
        args=args,
        train_dataset=ClipsWithSomeUnreadable(unreadable),
        data_collator=VideoDataCollator(tiny_processor()),
        max_failed_fraction=max_failed_fraction,
        failed_fraction_window=4,
    )
    result = {}
    try:
        trainer.train()
    except TooManySkippedVideosError as error:
        result["error"] = str(error)
    result["step"] = trainer.state.global_step
    result["weights"] = {name: parameter.detach().clone() for name, parameter in model.named_parameters()}
    torch.save(result, out_dir / f"{case}.rank{dist.get_rank()}.pt")


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
    metrics = evaluate_retrieval(EmbeddingTowers(), retrieval_batches()[rank], across_processes=True)
    if rank == 0:
        torch.save(metrics, out_dir / "retrieval.pt")
    for case in TRAINER_CASES:
        train_with_unreadable_rows(out_dir, case)
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
