# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""
The Trainer of the training scripts and the steps of a script's run around it: [`ViCLIPTrainer`] (skipped samples,
every data source through one interface, exact resume, checkpoints that are complete or absent, evaluation through
the project's own loops), a callback that keeps `logit_scale` under its cap, and the steps a script's `main()` takes
in this order: set the run up ([`prepare_run`]), train and save ([`train_and_save`]), evaluate ([`evaluate_and_save`]),
publish ([`publish_output`]).
"""

import json
import logging
import math
import os
import time
from collections.abc import Callable
from typing import Any

import datasets
import torch
import transformers
from transformers import Trainer, TrainerCallback, TrainingArguments, set_seed
from transformers.integrations import TensorBoardCallback
from transformers.integrations.integration_utils import default_logdir
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR, has_length, rotate_checkpoints, speed_metrics

from viclip.video_processing_viclip import resample_to_interpolation

from .checkpoints import (
    CHECKPOINT_PATTERN,
    STAGING_PREFIX,
    checkpoint_problems,
    publish_checkpoint,
    resolve_resume_checkpoint,
    set_aside,
)
from .data.clips import DatasetHooks, normalize_pixel_values
from .data.collator import NON_MODEL_KEYS, SKIPPED_SAMPLES_KEY
from .data.frame_clips import ENCODED_CLIP_KEYS, decode_encoded_batch, training_output_size
from .data.skipping import SkippedSampleLog
from .distributed import sum_across_processes
from .hub import HubAccessError, check_hub_write_access, publish_folder


logger = transformers.utils.logging.get_logger(__name__)


def decay_parameter_names(model: torch.nn.Module) -> list[str]:
    """
    Names of the parameters that get weight decay, as the reference recipe decays them (timm's `no_weight_decay()`
    of its model): every matrix and kernel but the embedding tables (token, spatial, temporal and text positions);
    biases, norms, `logit_scale` and the class token (fewer than two dimensions) never decay. Names are the model's
    own, so a wrapped model (`torch.compile`) gets the same choice under its prefix.
    """
    decayed = []
    for module_name, module in model.named_modules():
        for name, parameter in module.named_parameters(prefix=module_name, recurse=False):
            is_table = isinstance(module, torch.nn.Embedding) or name.endswith("temporal_embedding")
            if parameter.ndim >= 2 and not is_table:
                decayed.append(name)
    return decayed


class ClampLogitScaleCallback(TrainerCallback):
    """After every optimizer step, caps `logit_scale` at `config.logit_scale_max` (ln 100), as the reference clamps its
    temperature from below at 0.01, so the parameter never drifts above the value the forward pass uses."""

    def on_step_end(self, args, state, control, model=None, **kwargs):
        logit_scale = getattr(model, "logit_scale", None)
        if logit_scale is not None:
            with torch.no_grad():
                logit_scale.clamp_(max=model.config.logit_scale_max)


class CheckpointSaveError(RuntimeError):
    """A checkpoint could not be written (a full disk, a lost mount, missing permissions)."""


def _is_disk_full(error: BaseException | None) -> bool:
    while error is not None:
        if isinstance(error, OSError) and error.errno in (28, 122):  # ENOSPC, EDQUOT
            return True
        if any(text in str(error) for text in ("No space left", "StorageFull", "Disk quota")):
            return True
        error = error.__cause__ or error.__context__
    return False


class ViCLIPTrainer(Trainer):
    """
    A `transformers.Trainer` for ViCLIP batches from [`viclip_train.data.VideoDataCollator`]:

    - **Skipped samples.** Every micro-batch, all processes add up how many samples they read and how many failed;
      each process appends its own skipped samples to `skipped_samples.rank<N>.jsonl` in the output folder, the logs
      carry the running total `skipped_samples` and a summary line when there were new skips, and the run stops on
      every process at once ([`TooManySkippedVideosError`]) when more than `max_failed_fraction` of the last
      `failed_fraction_window` samples failed. A process whose share of a micro-batch is empty (every video failed)
      does not stall the others: that micro-batch becomes a zero-weight step on every process (each runs its batch,
      or a placeholder clip, with the loss multiplied by 0), so that collectives stay in step.
    - **Every source through one interface.** The datasets of this package (annotation tables, shards, streams) are
      read through their [`DatasetHooks`], never picked by type: the sampler of the Trainer's own DataLoader
      (an annotation table's [`EpochSampler`]), or a DataLoader the dataset brings because it splits itself across
      processes and workers (shards, streams: not re-sharded or dispatched by accelerate, which would make every
      process read every sample, or one process read for all); the start of each epoch, with the batches a resumed
      run passes over (shards pass over them unread, streams continue from their saved position); and what a
      checkpoint saves beyond the Trainer's own state (a stream's position, `streaming_state_<N>.pt`). Other datasets
      are read as the Trainer reads them.
    - **Token masking** (`mask_ratio`): the share of video patch tokens dropped in training steps, passed to the
      model's forward; a setting of the run (`run_pretrain.py --mask_ratio`), never of the saved model's config.
    - **Exact resume.** A dataset's randomness depends only on its seed, the epoch and the sample; the token mask and
      dropout come from torch's generator, whose state the Trainer saves with each checkpoint and restores.
    - **Complete checkpoints.** `checkpoint-N` is written to `.saving-checkpoint-N/` and renamed into place once every
      process is done, so a process killed while saving leaves no partial `checkpoint-N` (see
      [`viclip_train.checkpoints`]); a failed write raises [`CheckpointSaveError`] naming the folder.
    - **Evaluation** goes through `evaluation(trainer, dataset) -> metrics` when given (the project's retrieval or
      classification loop, which gathers uneven per-process rows); its metrics are logged like the Trainer's own,
      so they reach every `--report_to` integration.
    - **uint8 batches.** `pixel_values` that arrive as uint8 (datasets built with `uint8_frames=True`) are rescaled
      and normalised on the device, after the copy, by [`normalize_pixel_values`] with the video processor of
      `processing_class` (or `video_processor`): a quarter of the bytes in shared memory and over the host-device
      link, and the same float32 values as the processor's.
    - Logs `logit_scale` (the multiplier, at most 100) and `clips_per_second` over all processes; exempts biases,
      norms, `logit_scale`, the class token and the position, temporal and token tables from weight decay
      ([`decay_parameter_names`]).

    The loss is the model's own (`return_loss=True` for [`ViCLIPModel`], `labels` for the classifier), a mean over
    the micro-batch; the Trainer divides it by the gradient accumulation steps.

    Args:
        max_failed_fraction (`float`, defaults to 0.5), failed_fraction_window (`int`, defaults to 1000): the skip
            policy, see [`SkippedSampleLog`].
        evaluation (`Callable`, *optional*): computes the metrics of an evaluation set, without the `eval_` prefix.
        video_processor (*optional*): normalises uint8 batches; defaults to `processing_class.video_processor`.
        All other arguments are the Trainer's.
    """

    def __init__(
        self,
        *args,
        max_failed_fraction: float = 0.5,
        failed_fraction_window: int = 1000,
        evaluation: Callable[["ViCLIPTrainer", Any], dict[str, float]] | None = None,
        video_processor: Any = None,
        mask_ratio: float = 0.0,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.mask_ratio = mask_ratio  # of the video tokens in training steps: a training setting, not the model's
        self.video_processor = video_processor or getattr(self.processing_class, "video_processor", None)
        self.max_failed_fraction = max_failed_fraction
        self.failed_fraction_window = failed_fraction_window
        self.evaluation = evaluation
        self.skipped_log = self.new_skipped_log()
        self._train_sampler: torch.utils.data.Sampler | None = None
        self._staging_root: str | None = None
        self._zero_weight = False
        self._zero_weight_steps = 0
        self._clips_since_log = 0
        self._last_log_time = time.perf_counter()
        for callback in self.callback_handler.callbacks:
            if isinstance(callback, TensorBoardCallback) and callback.logging_dir is None:
                # also for runs that only evaluate (no on_train_begin to set it): the events go to the output folder
                callback.logging_dir = os.path.join(self.args.output_dir, default_logdir())

    def new_skipped_log(self) -> SkippedSampleLog:
        """A [`SkippedSampleLog`] of this process with the run's policy, recording into the output folder."""
        return SkippedSampleLog(
            self.args.output_dir,
            process_index=self.args.process_index,
            max_failed_fraction=self.max_failed_fraction,
            window=self.failed_fraction_window,
        )

    def get_decay_parameter_names(self, model: torch.nn.Module) -> list[str]:
        return decay_parameter_names(model)

    # ---- data order and exact resume, through the datasets' hooks ----

    @staticmethod
    def _hooks(dataset: Any) -> DatasetHooks:
        """How `dataset` is read: through its own hooks, or the defaults (the Trainer's way) for another kind."""
        return dataset if isinstance(dataset, DatasetHooks) else DatasetHooks()

    def _get_train_sampler(self, train_dataset=None) -> torch.utils.data.Sampler | None:
        dataset = train_dataset if train_dataset is not None else self.train_dataset
        self._train_sampler = None
        if self.args.train_sampling_strategy in ("random", "sequential"):
            seed = self.args.data_seed if self.args.data_seed is not None else self.args.seed
            shuffle = self.args.train_sampling_strategy == "random"
            self._train_sampler = self._hooks(dataset).training_sampler(seed, shuffle)
        if self._train_sampler is not None:
            return self._train_sampler
        return super()._get_train_sampler(train_dataset)

    def _run_epoch(self, *args, **kwargs):
        epoch = kwargs["epoch"]
        # accelerate forwards `set_epoch` to the sampler except through a resumed, sharded loader: set it here
        if self._train_sampler is not None:
            self._train_sampler.set_epoch(epoch)
        resuming = epoch == kwargs["epochs_trained"] and kwargs["resume_from_checkpoint"] is not None
        resume_batches = kwargs["steps_trained_in_current_epoch"] if resuming and not self.args.ignore_data_skip else 0
        self._hooks(self.train_dataset).start_epoch(
            epoch, resume_batches=resume_batches, checkpoint=kwargs["resume_from_checkpoint"]
        )
        return super()._run_epoch(*args, **kwargs)

    def _save_rng_state(self, output_dir: str) -> None:
        super()._save_rng_state(output_dir)
        self._hooks(self.train_dataset).save_position(output_dir, self.args.process_index)  # beside its RNG state

    def get_train_dataloader(self) -> torch.utils.data.DataLoader:
        hooks = self._hooks(self.train_dataset)
        loader = hooks.dataloader(self.args, self._train_batch_size, self.data_collator, train=True)
        return loader if loader is not None else super().get_train_dataloader()

    def get_eval_dataloader(self, eval_dataset=None) -> torch.utils.data.DataLoader:
        hooks = self._hooks(eval_dataset if eval_dataset is not None else self.eval_dataset)
        loader = hooks.dataloader(self.args, self.args.eval_batch_size, self.data_collator, train=False)
        return loader if loader is not None else super().get_eval_dataloader(eval_dataset)

    # ---- skipped samples and the training step ----

    def _prepare_inputs(self, inputs):
        inputs = super()._prepare_inputs(inputs)
        pixel_values = inputs.get("pixel_values") if isinstance(inputs, dict) else None
        if pixel_values is not None and pixel_values.dtype == torch.uint8:
            if self.video_processor is None:
                raise ValueError(
                    "This batch holds uint8 pixel_values (a dataset with uint8_frames=True): give ViCLIPTrainer the "
                    "processor (processing_class=...) or video_processor=... so that it can normalise them."
                )
            inputs["pixel_values"] = normalize_pixel_values(pixel_values, self.video_processor)
        return inputs

    def training_step(self, model, inputs, num_items_in_batch=None):
        skipped = inputs.pop(SKIPPED_SAMPLES_KEY, [])
        if ENCODED_CLIP_KEYS[0] in inputs:  # JPEG frames left to this process: decoded and augmented on its device
            inputs, failed = self._decode_frames(inputs)
            skipped = [*skipped, *failed]
        for key in NON_MODEL_KEYS:
            inputs.pop(key, None)
        rows = int(inputs["pixel_values"].shape[0]) if "pixel_values" in inputs else 0
        counts = torch.tensor([rows + len(skipped), len(skipped), int(rows == 0)], device=self.args.device)
        read, failed, empty_shares = (int(value) for value in sum_across_processes(counts))
        epoch = self._hooks(self.train_dataset).data_epoch(math.floor(self.state.epoch or 0))
        step = self.state.global_step
        self.skipped_log.add(skipped, read=read, failed=failed, split="train", epoch=epoch, step=step)
        self._clips_since_log += read - failed
        if not empty_shares:
            return super().training_step(model, inputs, num_items_in_batch)
        self._zero_weight_steps += 1
        self._zero_weight = True
        try:
            return super().training_step(model, inputs if rows else self._placeholder_inputs(model), None)
        finally:
            self._zero_weight = False

    def _decode_frames(self, inputs: dict[str, Any]) -> tuple[dict[str, Any], list]:
        """The batch's encoded clips decoded on this process's device with the training augmentation's crops and
        flips that the workers drew ([`decode_encoded_batch`]), to the video processor's size and interpolation, as
        uint8 frames (normalised later, as every uint8 batch); and the clips that could not be decoded."""
        processor = self.video_processor
        if processor is None:
            raise ValueError(
                "This batch holds JPEG frames to decode (shards read with --frame_decoding device): give "
                "ViCLIPTrainer the processor (processing_class=...) or video_processor=... for their size."
            )
        interpolation = resample_to_interpolation(processor.resample)
        return decode_encoded_batch(inputs, training_output_size(processor), self.args.device, interpolation)

    def _placeholder_inputs(self, model) -> dict[str, torch.Tensor]:
        """One black clip (and for a dual encoder an empty caption): the input of a zero-weight step."""
        unwrapped = self.accelerator.unwrap_model(model)
        vision = unwrapped.config.vision_config
        device = self.args.device
        size = (1, vision.num_frames, vision.num_channels, vision.image_size, vision.image_size)
        inputs = {"pixel_values": torch.zeros(size, device=device)}
        if hasattr(unwrapped, "text_model"):
            text = unwrapped.config.text_config
            input_ids = torch.full((1, text.max_position_embeddings), text.pad_token_id or 0, device=device)
            input_ids[0, :2] = torch.tensor([text.bos_token_id, text.eos_token_id])
            inputs["input_ids"] = input_ids
            inputs["attention_mask"] = (torch.arange(text.max_position_embeddings, device=device) < 2)[None].long()
        else:
            inputs["labels"] = torch.zeros(1, dtype=torch.long, device=device)
        return inputs

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        for key in NON_MODEL_KEYS:
            inputs.pop(key, None)
        if "labels" not in inputs:
            inputs = {**inputs, "return_loss": True}
        if self.mask_ratio and model.training:
            inputs = {**inputs, "mask_ratio": self.mask_ratio}
        outputs = model(**inputs)
        loss = outputs.loss * 0.0 if self._zero_weight else outputs.loss
        return (loss, outputs) if return_outputs else loss

    def floating_point_ops(self, inputs: dict[str, Any]) -> int:
        """
        transformers' estimate of a step's operations (6 x parameters x tokens, forward and backward), per tower: the
        video tokens (patches of every frame plus the class token, before masking) times the video tower's parameters,
        the caption tokens times the text tower's. transformers' own counts the main input's elements: the pixel
        values of a classifier (thousands of times its tokens) but only the captions of a dual encoder.
        """
        model = self.accelerator.unwrap_model(self.model)
        flos = 0
        if (pixel_values := inputs.get("pixel_values")) is not None and hasattr(model, "vision_model"):
            patch_size = model.vision_model.config.patch_size
            frames = pixel_values.shape[1] if pixel_values.dim() == 5 else 1
            patches = (pixel_values.shape[-2] // patch_size) * (pixel_values.shape[-1] // patch_size)
            tokens = pixel_values.shape[0] * (frames * patches + 1)
            flos += 6 * tokens * model.vision_model.num_parameters(exclude_embeddings=True)
        if (input_ids := inputs.get("input_ids")) is not None and hasattr(model, "text_model"):
            flos += 6 * input_ids.numel() * model.text_model.num_parameters(exclude_embeddings=True)
        return flos

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
        for key in NON_MODEL_KEYS:
            inputs.pop(key, None)
        if "pixel_values" not in inputs:  # every video of the batch was skipped
            return None, None, None
        return super().prediction_step(model, inputs, prediction_loss_only, ignore_keys)

    def train(self, *args, **kwargs):
        output = super().train(*args, **kwargs)
        self.skipped_log.finish()  # a run shorter than the judging minimum is judged at its end
        return output

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        if "loss" in logs:  # a training log
            now = time.perf_counter()
            logs["skipped_samples"] = self.skipped_log.total_failed
            logs["clips_per_second"] = round(self._clips_since_log / max(now - self._last_log_time, 1e-9), 2)
            self._clips_since_log, self._last_log_time = 0, now
            unwrapped = self.accelerator.unwrap_model(self.model)
            if hasattr(unwrapped, "clamped_logit_scale"):
                logs["logit_scale"] = round(float(unwrapped.clamped_logit_scale().detach()), 3)
            summary = self.skipped_log.summary()
            if summary:
                logger.warning(summary)
            if self._zero_weight_steps:
                logger.warning(
                    f"{self._zero_weight_steps} micro-batch(es) since the last report had a process without any "
                    "readable sample: they counted as zero-weight steps on every process."
                )
                self._zero_weight_steps = 0
        super().log(logs, start_time)

    # ---- evaluation ----

    def evaluate(self, eval_dataset=None, ignore_keys=None, metric_key_prefix: str = "eval") -> dict[str, float]:
        if self.evaluation is None:
            return super().evaluate(eval_dataset, ignore_keys, metric_key_prefix)
        dataset = eval_dataset if eval_dataset is not None else self.eval_dataset
        if dataset is None:
            raise ValueError("Evaluation needs an evaluation set: give the trainer eval_dataset.")
        start = time.time()
        results = self.evaluation(self, dataset)
        metrics = {f"{metric_key_prefix}_{name}": value for name, value in results.items()}
        num_samples = len(dataset) if has_length(dataset) else None  # a stream has no length
        metrics.update(speed_metrics(metric_key_prefix, start, num_samples=num_samples))
        self.log(dict(metrics))  # a copy: the Trainer adds `epoch` to what it logs
        self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control, metrics)
        return metrics

    # ---- checkpoints: written aside, renamed into place when complete ----

    def _get_output_dir(self, trial) -> str:
        return self._staging_root or super()._get_output_dir(trial)

    def _save_checkpoint(self, model, trial) -> None:
        run_dir = self._get_output_dir(trial)
        name = f"{PREFIX_CHECKPOINT_DIR}-{self.state.global_step}"
        staging_root = os.path.join(run_dir, STAGING_PREFIX + name)
        require_optimizer = not self.args.save_only_model
        if self.args.should_save and os.path.exists(staging_root):
            set_aside(staging_root, "a save of this step that an earlier run did not finish")
        self.accelerator.wait_for_everyone()
        self._staging_root = staging_root
        try:
            super()._save_checkpoint(model, trial)
        except Exception as error:
            cause = "the disk is full" if _is_disk_full(error) else f"{type(error).__name__}: {error}"
            raise CheckpointSaveError(
                f"Could not write {name} to {staging_root} ({cause}). That partial save is never loaded: free space "
                "(or lower --save_total_limit) and rerun the same command, which resumes from the newest complete "
                f"checkpoint in {run_dir}."
            ) from error
        finally:
            self._staging_root = None
        self.accelerator.wait_for_everyone()
        if self.args.should_save:
            final = os.path.join(run_dir, name)
            publish_checkpoint(os.path.join(staging_root, name), final, require_optimizer)
            best = self.state.best_model_checkpoint
            if best and os.path.normpath(best).startswith(os.path.normpath(staging_root)):
                self.state.best_model_checkpoint = final
            for folder in sorted(os.listdir(run_dir)):  # rotation must not delete incomplete folders unseen
                path = os.path.join(run_dir, folder)
                if CHECKPOINT_PATTERN.match(folder) and path != final and os.path.isdir(path):
                    problems = checkpoint_problems(path, require_optimizer)
                    if problems:
                        set_aside(path, "; ".join(problems))
            rotate_checkpoints(
                output_dir=run_dir,
                save_total_limit=self.args.save_total_limit,
                best_model_checkpoint=self.state.best_model_checkpoint,
                use_mtime=True,
            )
        self.accelerator.wait_for_everyone()


def prepare_run(training_args: TrainingArguments) -> bool:
    """
    Sets the run up: log format and levels (the Trainer's `--log_level`), the seed, no pinned memory without an
    accelerator, `remove_unused_columns=False` (the collator's batches are the model inputs plus bookkeeping keys),
    and, with `--push_to_hub`, a check that the Hub is reachable and the token can write, before anything else.

    Returns:
        `bool`: whether to publish the output folder at the end. The Trainer's own pushing (every checkpoint) is
        turned off: the scripts publish the finished folder once, with its card ([`publish_output`]).
    """
    logging.basicConfig(
        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S", level=logging.INFO
    )
    log_level = training_args.get_process_log_level()
    logging.getLogger("__main__").setLevel(log_level)
    transformers.utils.logging.set_verbosity(log_level)
    datasets.utils.logging.set_verbosity(log_level)
    set_seed(training_args.seed)
    if training_args.dataloader_pin_memory and training_args.device.type == "cpu":
        training_args.dataloader_pin_memory = False  # pinning needs an accelerator; torch warns otherwise
    training_args.remove_unused_columns = False
    push_to_hub, training_args.push_to_hub = training_args.push_to_hub, False
    if push_to_hub and training_args.process_index == 0:
        try:
            user = check_hub_write_access(_repo_id(training_args), training_args.hub_token)
        except HubAccessError as error:  # the message says it all, as the converter prints it
            raise SystemExit(f"error: {error}") from None
        logger.info(f"--push_to_hub: {user} can write to {_repo_id(training_args)}.")
    return push_to_hub


def _repo_id(training_args: TrainingArguments) -> str:
    return training_args.hub_model_id or os.path.basename(os.path.normpath(training_args.output_dir))


def train_and_save(trainer: ViCLIPTrainer, training_args: TrainingArguments) -> dict[str, float] | None:
    """
    Trains, resuming from the newest complete checkpoint in `--output_dir` unless told otherwise (so that rerunning
    an interrupted command continues it), then saves the model (weights, config, remote code, processor), the
    training metrics and the trainer state. Returns the training metrics.

    When that checkpoint has already reached `--max_steps` (or, without it, `--num_train_epochs`), the run was
    finished: nothing is trained or written, the log says so, and `None` is returned, for the script to stop with
    the finished run's results kept (its model, metrics and card; the model in memory is the untrained start).
    """
    checkpoint = resolve_resume_checkpoint(
        training_args.output_dir, training_args.resume_from_checkpoint, not training_args.save_only_model
    )
    if checkpoint is not None and (reached := _training_reached(checkpoint, training_args)):
        logger.warning(
            f"Nothing left to train: {checkpoint} has reached {reached}. The results of that run in "
            f"{training_args.output_dir} are kept; to train further, raise --max_steps or --num_train_epochs, or "
            "start over in a new --output_dir (or with --resume_from_checkpoint false)."
        )
        return None
    result = trainer.train(resume_from_checkpoint=checkpoint)
    trainer.save_model()
    trainer.log_metrics("train", result.metrics)
    trainer.save_metrics("train", result.metrics)
    trainer.save_state()
    return result.metrics


def _training_reached(checkpoint: str, training_args: TrainingArguments) -> str | None:
    """Which end of training (`--max_steps` or `--num_train_epochs`) `checkpoint` has reached, if any."""
    with open(os.path.join(checkpoint, "trainer_state.json"), encoding="utf-8") as handle:
        state = json.load(handle)
    if training_args.max_steps > 0:
        step = state["global_step"]
        return f"step {step} of --max_steps {training_args.max_steps}" if step >= training_args.max_steps else None
    epoch = state.get("epoch") or 0.0
    done = epoch >= training_args.num_train_epochs - 1e-6
    return f"epoch {epoch:g} of --num_train_epochs {training_args.num_train_epochs:g}" if done else None


def evaluate_and_save(trainer: ViCLIPTrainer, dataset: Any = None, prefix: str = "eval") -> dict[str, float]:
    """Evaluates (`dataset`, or the trainer's evaluation set), logs the metrics to every `--report_to` integration,
    prints them and writes `eval_results.json`. Returns the metrics, named `<prefix>_<metric>`."""
    metrics = trainer.evaluate(dataset, metric_key_prefix=prefix)
    trainer.log_metrics("eval", metrics)
    trainer.save_metrics("eval", metrics)
    return metrics


def publish_output(trainer: ViCLIPTrainer, push_to_hub: bool) -> None:
    """With `--push_to_hub` (as returned by [`prepare_run`]), publishes the output folder from the main process; a
    failed upload ends the run with one line that says the folder is complete and how to publish it later."""
    if push_to_hub and trainer.is_world_process_zero():
        training_args, repo_id = trainer.args, _repo_id(trainer.args)
        try:
            url = publish_folder(training_args.output_dir, repo_id, token=training_args.hub_token)
        except Exception as error:  # network, permissions, quota: the trained folder is intact either way
            reason = " ".join(str(error).split())[:300]
            raise SystemExit(
                f"error: --push_to_hub {repo_id}: the upload failed ({type(error).__name__}: {reason}). The output "
                f"folder {training_args.output_dir} is complete; publish it later with "
                f'`python -c "from viclip_train.hub import publish_folder; '
                f"publish_folder('{training_args.output_dir}', '{repo_id}')\"`."
            ) from None
        logger.info(f"Published {training_args.output_dir} to {url}")


__all__ = [
    "CheckpointSaveError",
    "ClampLogitScaleCallback",
    "ViCLIPTrainer",
    "decay_parameter_names",
    "evaluate_and_save",
    "prepare_run",
    "publish_output",
    "train_and_save",
]
