# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""
Trainer pieces shared by `run_pretrain.py` and `run_classification.py`: a [`ViCLIPTrainer`] that counts skipped
videos, logs the logit scale and clip throughput, and keeps weight decay off the parameters the reference exempts;
a callback that keeps `logit_scale` under its cap; resolving the checkpoint to resume from; and publishing an output
folder to the Hub as it is.
"""

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import torch
from transformers import HfArgumentParser, Trainer, TrainerCallback, TrainingArguments
from transformers.trainer_utils import get_last_checkpoint
from transformers.utils import logging

from .data import SKIPPED_KEY
from viclip.processing_viclip import ViCLIPProcessor


logger = logging.get_logger(__name__)

def decay_parameter_names(model: torch.nn.Module) -> list[str]:
    """
    Names of the parameters that get weight decay: all but those the model exempts through its `no_weight_decay()`
    (ViCLIP models: biases, norms, `logit_scale`, the class token and the embedding tables). Parameters are matched by
    identity, so a wrapped model (`torch.compile`) gets the same choice. Models without the method decay their
    matrices and kernels only.
    """
    no_weight_decay = getattr(model, "no_weight_decay", None)
    if no_weight_decay is None:
        return [name for name, parameter in model.named_parameters() if parameter.ndim >= 2]
    owner = getattr(no_weight_decay, "__self__", model)  # the module the method belongs to, inside any wrapper
    exempt_names = set(no_weight_decay())
    exempt = {id(parameter) for name, parameter in owner.named_parameters() if name in exempt_names}
    return [name for name, parameter in model.named_parameters() if id(parameter) not in exempt]


class ClampLogitScaleCallback(TrainerCallback):
    """After every optimizer step, caps `logit_scale` at `config.logit_scale_max` (ln 100), as the reference clamps its
    temperature from below at 0.01, so the parameter never drifts above the value the forward pass uses."""

    def on_step_end(self, args, state, control, model=None, **kwargs):
        logit_scale = getattr(model, "logit_scale", None)
        if logit_scale is not None:
            with torch.no_grad():
                logit_scale.clamp_(max=model.config.logit_scale_max)


class ViCLIPTrainer(Trainer):
    """
    A `transformers.Trainer` for ViCLIP batches from [`viclip_train.data.VideoDataCollator`]:

    - pops the batch's `num_skipped` (videos the collator dropped) before the forward pass and reports the running
      total, summed over processes, as `skipped_samples`;
    - logs `logit_scale` (the multiplier `exp(logit_scale)`, at most 100) and `clips_per_second` over all processes
      since the previous log;
    - exempts biases, norms, `logit_scale`, the class token and the position, temporal and token tables from weight
      decay ([`decay_parameter_names`]); the Trainer's default would decay several of them.

    The loss is the model's own (`return_loss=True` for [`ViCLIPModel`], `labels` for the classifier).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._skipped_samples = 0
        self._clips_since_log = 0
        self._last_log_time = time.perf_counter()

    def get_decay_parameter_names(self, model: torch.nn.Module) -> list[str]:
        return decay_parameter_names(model)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        num_skipped = inputs.pop(SKIPPED_KEY, None)
        if model.training:
            if num_skipped is not None:
                self._skipped_samples += int(num_skipped)
            self._clips_since_log += inputs["pixel_values"].shape[0]
        if "labels" not in inputs:
            inputs = {**inputs, "return_loss": True}
        outputs = model(**inputs)
        return (outputs.loss, outputs) if return_outputs else outputs.loss

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        if "loss" in logs:  # a training log
            now = time.perf_counter()
            counts = torch.tensor([self._skipped_samples, self._clips_since_log], device=self.args.device)
            skipped, clips = self.accelerator.reduce(counts, reduction="sum").tolist()
            logs["skipped_samples"] = int(skipped)
            logs["clips_per_second"] = round(clips / max(now - self._last_log_time, 1e-9), 2)
            self._clips_since_log, self._last_log_time = 0, now
            clamped_logit_scale = getattr(self.accelerator.unwrap_model(self.model), "clamped_logit_scale", None)
            if clamped_logit_scale is not None:
                logs["logit_scale"] = round(float(clamped_logit_scale()), 3)
        super().log(logs, start_time)


def parse_arguments_with_json(parser: HfArgumentParser, argv: list[str] | None = None) -> tuple:
    """
    Parses a script's argument dataclasses from `argv` (default `sys.argv[1:]`): plain flags, or a JSON file as the
    first argument followed by optional flags that override its values, e.g.
    `run_pretrain.py configs/demo.json --max_steps 3 --output_dir /tmp/run`. A multi-process launch (`torchrun`) on a
    machine without a GPU gets `--use_cpu true`, which the Trainer needs to train data-parallel on CPUs. `--fsdp` and
    `--deepspeed` on CPUs get a warning: accelerate runs neither there and trains plain data-parallel instead.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0].endswith(".json"):
        with open(argv[0], encoding="utf-8") as config_file:
            values = json.load(config_file)
        argv = [flag for name, value in values.items() for flag in _as_flags(name, value)] + argv[1:]
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.cuda.is_available() and "--use_cpu" not in argv:
        # Without `use_cpu`, the Trainer on a machine with no GPU runs each launched process alone (no DDP).
        logger.warning("Several processes and no GPU: training data-parallel on CPUs (--use_cpu true).")
        argv += ["--use_cpu", "true"]
    arguments = parser.parse_args_into_dataclasses(args=argv)
    for training_args in (value for value in arguments if isinstance(value, TrainingArguments)):
        on_cpu = training_args.use_cpu or not torch.cuda.is_available()
        if on_cpu and (training_args.fsdp or training_args.deepspeed):
            flag = "--fsdp" if training_args.fsdp else "--deepspeed"
            logger.warning(
                f"{flag} has no effect on CPUs (accelerate shards models only on accelerators): training "
                "data-parallel, with a full copy of the model in every process."
            )
    return arguments


def _as_flags(name: str, value: Any) -> list[str]:
    """The command-line flags that give `name` the JSON `value`."""
    if isinstance(value, list):
        return [f"--{name}", *(str(item) for item in value)]
    if isinstance(value, dict):
        return [f"--{name}", json.dumps(value)]
    return [f"--{name}", str(value)]


def load_processor(model_name_or_path: str | None, config: Any) -> ViCLIPProcessor:
    """The processor saved with the model (a folder holding `processor_config.json`, or a Hub id), else the default
    processor of `config`'s frames, frame size and context ([`ViCLIPProcessor.from_model_config`])."""
    path = model_name_or_path
    if path and (not os.path.isdir(path) or os.path.isfile(os.path.join(path, "processor_config.json"))):
        return ViCLIPProcessor.from_pretrained(path)
    return ViCLIPProcessor.from_model_config(config)


def resolve_resume_checkpoint(output_dir: str, resume_from_checkpoint: str | bool | None) -> str | None:
    """
    The checkpoint to resume from: the one given, or else the latest `checkpoint-*` folder in `output_dir`, so that
    rerunning an interrupted command continues it. `resume_from_checkpoint=False` ("false" on the command line) starts
    over.
    """
    if isinstance(resume_from_checkpoint, str) and resume_from_checkpoint.lower() in ("false", "no", "none"):
        return None
    if resume_from_checkpoint not in (None, True, "true", "True"):
        if not os.path.isdir(resume_from_checkpoint):
            raise FileNotFoundError(f"--resume_from_checkpoint {resume_from_checkpoint} is not a folder.")
        return str(resume_from_checkpoint)
    last = get_last_checkpoint(output_dir) if os.path.isdir(output_dir) else None
    if last is not None:
        logger.warning(f"Resuming from the latest checkpoint in {output_dir}: {last}.")
    elif resume_from_checkpoint in (True, "true", "True"):
        raise FileNotFoundError(
            f"--resume_from_checkpoint asked to resume, but {output_dir} has no checkpoint-* folder."
        )
    return last


def end_distributed_run() -> None:
    """Waits for every process and tears the process group down, so that no process exits with collectives alive
    (gloo aborts a process that leaves them); a no-op in a single process."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()


def publish_folder(folder: str | Path, repo_id: str, token: str | None = None, private: bool | None = None) -> str:
    """
    Publishes `folder` to the Hub model repository `repo_id` exactly as it is (model, processor, remote code, card),
    leaving out intermediate `checkpoint-*` folders and logs. Returns the commit URL.
    """
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    api.create_repo(repo_id, repo_type="model", exist_ok=True, private=private)
    commit = api.upload_folder(
        repo_id=repo_id,
        folder_path=str(folder),
        repo_type="model",
        ignore_patterns=["checkpoint-*", "checkpoint-*/**", "runs/**", "*.pt", "*.pth"],
        commit_message="Upload ViCLIP model",
    )
    return str(getattr(commit, "commit_url", commit))


__all__ = [
    "ClampLogitScaleCallback",
    "ViCLIPTrainer",
    "decay_parameter_names",
    "end_distributed_run",
    "load_processor",
    "parse_arguments_with_json",
    "publish_folder",
    "resolve_resume_checkpoint",
]
