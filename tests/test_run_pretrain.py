"""Behaviour of `run_pretrain.py` and its Trainer pieces: the Hub-ready output, exact resume after a kill (mid-training
or mid-save) with the default augmentation and token masking, complete checkpoints, a full disk, skipped videos,
validated arguments, data sources, distributed runs, gradient accumulation, weight decay, the logit-scale cap,
reporting and publishing."""

import dataclasses
import errno
import json
import logging
import math
import os
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import datasets
import pytest
import torch
from safetensors.torch import load_file
from transformers import HfArgumentParser, Trainer, TrainerCallback, TrainerState, TrainingArguments

import run_pretrain
import viclip_train.trainer as trainer_module
from viclip import ViCLIPConfig, ViCLIPForVideoClassification, ViCLIPModel
from viclip_train.arguments import parse_arguments_with_json
from viclip_train.data.collator import VideoDataCollator
from viclip_train.data.skipping import SkippedSample
from viclip_train.data.sources import load_splits
from viclip_train.data.synthetic import make_synthetic_corpus
from viclip_train.hub import HubAccessError, check_hub_write_access, publish_folder
from viclip_train.trainer import CheckpointSaveError, ClampLogitScaleCallback, ViCLIPTrainer, decay_parameter_names

from .conftest import tiny_config_kwargs


ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "run_pretrain.py"


@pytest.fixture(scope="module")
def tiny_corpus(tmp_path_factory):
    return make_synthetic_corpus(
        tmp_path_factory.mktemp("corpus"), num_train=8, num_val=4, num_frames=8, frame_size=32
    )


def tiny_run_config(corpus, output_dir: Path, **overrides) -> dict:
    """A run_pretrain.py configuration that trains a tiny model for two steps on the CPU."""
    model_config = tiny_config_kwargs()
    config = {
        "train_file": str(corpus.annotation_file("train")),
        "validation_file": str(corpus.annotation_file("val")),
        "video_root": str(corpus.root),
        "config_name": "viclip-b16",
        "config_overrides": {key: model_config[key] for key in ("projection_dim", "text_config", "vision_config")},
        "mask_ratio": 0.5,
        "output_dir": str(output_dir),
        "do_train": True,
        "do_eval": True,
        "max_steps": 2,
        "per_device_train_batch_size": 4,
        "per_device_eval_batch_size": 4,
        "learning_rate": 1e-3,
        "logging_steps": 1,
        "save_steps": 2,
        "dataloader_num_workers": 0,
        "dataloader_pin_memory": False,
        "report_to": "none",
        "use_cpu": True,
        "seed": 7,
    }
    config.update(overrides)
    return config


def run_script(
    config: dict,
    tmp_path: Path,
    *launcher: str,
    extra_args: tuple[str, ...] = (),
    script: Path = SCRIPT,
    returncode: int = 0,
    threads: int = 1,
) -> None:
    config_file = tmp_path / f"config-{abs(hash(json.dumps(config, sort_keys=True)))}.json"
    config_file.write_text(json.dumps(config))
    command = [*(launcher or (sys.executable,)), str(script), str(config_file), *extra_args]
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": str(threads)}
    result = subprocess.run(command, capture_output=True, text=True, env=environment, cwd=tmp_path, timeout=600)
    (tmp_path / "run.log").write_text(result.stdout + result.stderr)
    assert result.returncode == returncode, (
        f"{command} exited with {result.returncode}, log in {tmp_path / 'run.log'}:\n{result.stderr[-3000:]}"
    )


def run_in_process(config: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs `run_pretrain.main()` in this process on `config` (faster than a fresh interpreter)."""
    config_file = tmp_path / f"config-{abs(hash(json.dumps(config, sort_keys=True)))}.json"
    config_file.write_text(json.dumps(config))
    monkeypatch.setattr(sys, "argv", ["run_pretrain.py", str(config_file)])
    run_pretrain.main()


class Killed(BaseException):
    """Stands in for a kill -9 inside the test process: no `except Exception` of the run catches it, and nothing of
    the run cleans up after it, so the output folder is left as a killed process leaves it."""


def kill_at_step_begin(monkeypatch: pytest.MonkeyPatch, step: int) -> None:
    """Every ViCLIPTrainer made from now on dies when step `step + 1` is about to start."""

    class Kill(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            if state.global_step == step:
                raise Killed(f"killed before step {step + 1}")

    trainer_init = ViCLIPTrainer.__init__

    def init_with_kill(self, *args, **kwargs):
        trainer_init(self, *args, **kwargs)
        self.add_callback(Kill())

    monkeypatch.setattr(ViCLIPTrainer, "__init__", init_with_kill)


# run_pretrain.py in a fresh interpreter, killed (os._exit: no clean-up at all) when step CRASH_AT_STEP + 1 is about to
# start.
CRASHING_RUN = """
import os
import run_pretrain
from transformers import TrainerCallback
from viclip_train.trainer import ViCLIPTrainer

class Crash(TrainerCallback):
    def on_step_begin(self, args, state, control, **kwargs):
        if state.global_step == CRASH_AT_STEP:
            os._exit(CRASH_EXIT_CODE)

trainer_init = ViCLIPTrainer.__init__
def init_with_crash(self, *args, **kwargs):
    trainer_init(self, *args, **kwargs)
    self.add_callback(Crash())
ViCLIPTrainer.__init__ = init_with_crash
run_pretrain.main()
"""
CRASH_EXIT_CODE = 17

# Training augmentation (random frames, crop, flip) and token masking (0.5) at their defaults; 8 clips in batches of 2
# make 4 steps per epoch, so checkpoint-3 falls mid-epoch and the resumed run crosses into the next epoch; the cosine
# schedule changes the learning rate every step. Resuming must restore optimizer, scheduler, data order, the
# augmentation of every clip and the token masks.
RESUME_RUN = {
    "max_steps": 6,
    "save_steps": 3,
    "per_device_train_batch_size": 2,
    "lr_scheduler_type": "cosine",
    "warmup_steps": 1,
    "do_eval": False,
}


@pytest.fixture(scope="module")
def uninterrupted_run(tiny_corpus, tmp_path_factory) -> Path:
    """The output folder of `RESUME_RUN` trained without interruption (DataLoader in the main process)."""
    output_dir = tmp_path_factory.mktemp("uninterrupted")
    with pytest.MonkeyPatch.context() as monkeypatch:
        run_in_process(tiny_run_config(tiny_corpus, output_dir / "out", **RESUME_RUN), output_dir, monkeypatch)
    return output_dir / "out"


# Two steps, a checkpoint after each: the runs that are killed while saving checkpoint-2 resume from checkpoint-1.
SAVE_RUN = {"max_steps": 2, "save_steps": 1, "do_eval": False}


@pytest.fixture(scope="module")
def uninterrupted_short_run(tiny_corpus, tmp_path_factory) -> Path:
    """The output folder of `SAVE_RUN` trained without interruption."""
    output_dir = tmp_path_factory.mktemp("uninterrupted_short")
    with pytest.MonkeyPatch.context() as monkeypatch:
        run_in_process(tiny_run_config(tiny_corpus, output_dir / "out", **SAVE_RUN), output_dir, monkeypatch)
    return output_dir / "out"


def test_mask_ratio_masks_the_training_steps_but_is_not_saved_in_the_model_config(uninterrupted_short_run):
    vision_config = json.loads((uninterrupted_short_run / "config.json").read_text())["vision_config"]
    assert "mask_ratio" not in vision_config  # a saved model is inference-ready
    assert "token mask ratio 0.5" in (uninterrupted_short_run / "README.md").read_text()  # the run's setting

    calls = []

    class Recorder(torch.nn.Module):
        def forward(self, **inputs):
            calls.append((self.training, inputs.get("mask_ratio")))
            return dataclasses.make_dataclass("Output", ["loss"])(torch.tensor(1.0))

    trainer = ViCLIPTrainer.__new__(ViCLIPTrainer)  # compute_loss alone, without building a run
    trainer.mask_ratio, trainer._zero_weight = 0.5, False
    model = Recorder()
    trainer.compute_loss(model.train(), {"pixel_values": torch.zeros(1)})
    trainer.compute_loss(model.eval(), {"pixel_values": torch.zeros(1)})
    assert calls == [(True, 0.5), (False, None)]


def assert_same_weights(expected_dir: Path, resumed_dir: Path) -> None:
    expected, resumed = load_file(expected_dir / "model.safetensors"), load_file(resumed_dir / "model.safetensors")
    assert expected.keys() == resumed.keys()
    for name in expected:
        torch.testing.assert_close(resumed[name], expected[name], rtol=0, atol=0, msg=name)


def test_tiny_run_writes_a_hub_ready_folder_with_retrieval_results(tiny_corpus, tmp_path):
    from transformers import AutoModel, AutoProcessor

    output_dir = tmp_path / "out"
    run_script(tiny_run_config(tiny_corpus, output_dir), tmp_path)

    results = json.loads((output_dir / "eval_results.json").read_text())
    for key in ("eval_t2v_r1", "eval_t2v_r5", "eval_t2v_r10", "eval_v2t_r1", "eval_v2t_r5", "eval_v2t_r10"):
        assert 0.0 <= results[key] <= 100.0
    assert (output_dir / "README.md").is_file()  # the card's content: tests/test_model_cards.py
    assert isinstance(AutoModel.from_pretrained(output_dir), ViCLIPModel)
    processor = AutoProcessor.from_pretrained(output_dir)
    assert processor.video_processor.num_frames == 4
    assert (output_dir / "modeling_viclip.py").exists()


def test_unreadable_videos_are_skipped_counted_and_logged_to_tensorboard(tiny_corpus, tmp_path):
    corpus_copy = tmp_path / "corpus"
    shutil.copytree(tiny_corpus.root, corpus_copy)
    rows = json.loads(tiny_corpus.annotation_file("train").read_text())
    (corpus_copy / rows[0]["video"]).write_bytes(b"not a video")
    config = tiny_run_config(
        tiny_corpus, tmp_path / "out", video_root=str(corpus_copy), do_eval=False, report_to="tensorboard"
    )
    run_script(config, tmp_path)

    state = json.loads((tmp_path / "out" / "trainer_state.json").read_text())
    skipped = [entry["skipped_samples"] for entry in state["log_history"] if "skipped_samples" in entry]
    assert skipped[-1] == 1  # the broken clip, once per epoch of 8 clips
    assert all(
        "clips_per_second" in entry and "logit_scale" in entry for entry in state["log_history"] if "loss" in entry
    )
    assert rows[0]["video"] in (tmp_path / "run.log").read_text()  # logged with its path
    assert list((tmp_path / "out").rglob("events.out.tfevents.*"))
    records = [
        json.loads(line) for line in (tmp_path / "out" / "skipped_samples.rank0.jsonl").read_text().splitlines()
    ]
    assert [(record["row"], record["split"]) for record in records] == [(0, "train")]
    assert records[0]["video"].endswith(rows[0]["video"]) and records[0]["reason"]


def test_one_unreadable_video_with_batches_of_one_is_skipped_without_ending_the_run(
    tiny_corpus, tmp_path, monkeypatch
):
    corpus_copy = tmp_path / "corpus"
    shutil.copytree(tiny_corpus.root, corpus_copy)
    rows = json.loads(tiny_corpus.annotation_file("train").read_text())
    (corpus_copy / rows[3]["video"]).unlink()
    config = tiny_run_config(
        tiny_corpus,
        tmp_path / "out",
        video_root=str(corpus_copy),
        do_eval=False,
        per_device_train_batch_size=1,
        max_steps=8,
        save_strategy="no",
    )
    run_in_process(config, tmp_path, monkeypatch)
    state = json.loads((tmp_path / "out" / "trainer_state.json").read_text())
    assert state["global_step"] == 8 and state["log_history"][-2]["skipped_samples"] == 1
    records = [
        json.loads(line) for line in (tmp_path / "out" / "skipped_samples.rank0.jsonl").read_text().splitlines()
    ]
    assert [record["row"] for record in records] == [3]


def test_final_evaluation_metrics_reach_tensorboard(tiny_corpus, tmp_path, monkeypatch):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    config = tiny_run_config(tiny_corpus, tmp_path / "out", max_steps=1, save_strategy="no", report_to="tensorboard")
    run_in_process(config, tmp_path, monkeypatch)
    results = json.loads((tmp_path / "out" / "eval_results.json").read_text())
    scalars = {}
    for events in (tmp_path / "out").rglob("events.out.tfevents.*"):
        accumulator = EventAccumulator(str(events))
        accumulator.Reload()
        scalars.update({tag: accumulator.Scalars(tag)[-1].value for tag in accumulator.Tags()["scalars"]})
    assert scalars["eval/t2v_r1"] == pytest.approx(results["eval_t2v_r1"])
    assert scalars["eval/mean_recall"] == pytest.approx(results["eval_mean_recall"])


def test_evaluation_only_run_logs_to_tensorboard_in_the_output_folder(
    tiny_corpus, tiny_viclip_folder, tmp_path, monkeypatch
):
    config = tiny_run_config(tiny_corpus, tmp_path / "out", do_train=False, report_to="tensorboard")
    config.pop("config_name"), config.pop("config_overrides")
    monkeypatch.chdir(tmp_path)
    run_in_process({**config, "model_name_or_path": str(tiny_viclip_folder)}, tmp_path, monkeypatch)
    assert list((tmp_path / "out").rglob("events.out.tfevents.*")) and not (tmp_path / "runs").exists()


@pytest.mark.parametrize("num_workers", [0, 2])
def test_run_killed_mid_epoch_resumes_to_the_weights_of_an_uninterrupted_run(
    tiny_corpus, uninterrupted_run, tmp_path, monkeypatch, caplog, num_workers
):
    config = tiny_run_config(tiny_corpus, tmp_path / "out", dataloader_num_workers=num_workers, **RESUME_RUN)
    with monkeypatch.context() as killing:
        kill_at_step_begin(killing, 3)
        with pytest.raises(Killed):
            run_in_process(config, tmp_path, killing)
    assert (tmp_path / "out" / "checkpoint-3").is_dir() and not (tmp_path / "out" / "model.safetensors").exists()
    with caplog.at_level(logging.WARNING):
        run_in_process(config, tmp_path, monkeypatch)  # the same command again resumes from checkpoint-3
    assert "Resuming from the latest checkpoint" in caplog.text and "checkpoint-3" in caplog.text
    assert json.loads((tmp_path / "out" / "trainer_state.json").read_text())["global_step"] == 6
    assert_same_weights(uninterrupted_run, tmp_path / "out")


def test_process_killed_mid_training_resumes_to_the_weights_of_an_uninterrupted_run(
    tiny_corpus, uninterrupted_short_run, tmp_path
):
    interrupted = tmp_path / "interrupted"
    crashing_script = tmp_path / "crashing_run_pretrain.py"
    crashing_script.write_text(
        CRASHING_RUN.replace("CRASH_AT_STEP", "1").replace("CRASH_EXIT_CODE", str(CRASH_EXIT_CODE))
    )
    # batches of 4 of 8 clips: checkpoint-1 is mid-epoch; DataLoader workers in a fresh process
    config = tiny_run_config(tiny_corpus, interrupted, dataloader_num_workers=2, **SAVE_RUN)
    threads = torch.get_num_threads()  # as many as the reference run in this process: the same float sums
    run_script(config, tmp_path, script=crashing_script, returncode=CRASH_EXIT_CODE, threads=threads)
    assert (interrupted / "checkpoint-1").is_dir() and not (interrupted / "model.safetensors").exists()
    run_script(config, tmp_path, threads=threads)  # the same command again resumes from checkpoint-1
    assert "Resuming from the latest checkpoint" in (tmp_path / "run.log").read_text()
    assert json.loads((interrupted / "trainer_state.json").read_text())["global_step"] == 2
    assert_same_weights(uninterrupted_short_run, interrupted)


def kill_after_the_weights(monkeypatch: pytest.MonkeyPatch, step: int) -> None:
    """The weights of checkpoint-`step` are written, the optimizer not yet."""
    original = Trainer.save_model

    def save_model(self, output_dir=None, _internal_call=False):
        original(self, output_dir, _internal_call)
        if _internal_call and self.state.global_step == step:
            raise Killed("killed after writing the weights")

    monkeypatch.setattr(Trainer, "save_model", save_model)


def kill_inside_the_optimizer(monkeypatch: pytest.MonkeyPatch, step: int) -> None:
    """Half of the optimizer state of checkpoint-`step` is on disk."""
    original = Trainer._save_optimizer_and_scheduler

    def save_optimizer_and_scheduler(self, output_dir):
        if self.state.global_step != step:
            return original(self, output_dir)
        Path(output_dir, "optimizer.pt").write_bytes(b"PK\x03\x04 the first bytes of a zip archive")
        raise Killed("killed while writing the optimizer")

    monkeypatch.setattr(Trainer, "_save_optimizer_and_scheduler", save_optimizer_and_scheduler)


def kill_inside_the_trainer_state(monkeypatch: pytest.MonkeyPatch, step: int) -> None:
    """Everything of checkpoint-`step` but the end of trainer_state.json is written."""
    original = TrainerState.save_to_json

    def save_to_json(self, json_path):
        if self.global_step != step:
            return original(self, json_path)
        text = json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)
        Path(json_path).write_text(text[: len(text) // 2])
        raise Killed("killed while writing the trainer state")

    monkeypatch.setattr(TrainerState, "save_to_json", save_to_json)


def kill_before_the_rename(monkeypatch: pytest.MonkeyPatch, step: int) -> None:
    """Every file of checkpoint-`step` is written, the folder is not yet renamed into place."""
    original = trainer_module.publish_checkpoint

    def publish_checkpoint(staged, final, *args, **kwargs):
        if Path(final).name == f"checkpoint-{step}":
            raise Killed("killed before the rename")
        return original(staged, final, *args, **kwargs)

    monkeypatch.setattr(trainer_module, "publish_checkpoint", publish_checkpoint)


@pytest.mark.parametrize(
    "kill", [kill_after_the_weights, kill_inside_the_optimizer, kill_inside_the_trainer_state, kill_before_the_rename]
)
def test_run_killed_while_saving_reruns_from_the_newest_complete_checkpoint(
    tiny_corpus, uninterrupted_short_run, tmp_path, monkeypatch, caplog, kill
):
    config = tiny_run_config(tiny_corpus, tmp_path / "out", **SAVE_RUN)
    with monkeypatch.context() as killing:
        kill(killing, 2)
        with pytest.raises(Killed):
            run_in_process(config, tmp_path, killing)
    out = tmp_path / "out"
    assert (out / "checkpoint-1").is_dir() and not (out / "checkpoint-2").exists()  # never a partial checkpoint-2
    with caplog.at_level(logging.WARNING):
        run_in_process(config, tmp_path, monkeypatch)  # the same command again
    assert ".saving-checkpoint-2" in caplog.text and "not loaded" in caplog.text  # named in a warning
    assert "checkpoint-1" in caplog.text and (out / ".incomplete-checkpoint-2").is_dir()  # moved aside, not deleted
    assert_same_weights(uninterrupted_short_run, out)


def test_full_disk_while_saving_is_an_error_naming_the_folder_and_the_rerun_continues(
    tiny_corpus, uninterrupted_short_run, tmp_path, monkeypatch, caplog
):
    config = tiny_run_config(tiny_corpus, tmp_path / "out", **SAVE_RUN)
    torch_save = torch.save

    def save_on_a_full_disk(obj, path, *args, **kwargs):
        if str(path).endswith("optimizer.pt") and "checkpoint-2" in str(path):
            Path(path).write_bytes(b"PK\x03\x04")  # the first bytes made it
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return torch_save(obj, path, *args, **kwargs)

    with monkeypatch.context() as full_disk:
        full_disk.setattr(torch, "save", save_on_a_full_disk)
        with pytest.raises(CheckpointSaveError, match=r"checkpoint-2 to .*\.saving-checkpoint-2 \(the disk is full\)"):
            run_in_process(config, tmp_path, full_disk)
    run_in_process(config, tmp_path, monkeypatch)  # space freed: the same command continues from checkpoint-1
    assert_same_weights(uninterrupted_short_run, tmp_path / "out")


def test_hand_truncated_checkpoint_is_named_and_passed_over(
    tiny_corpus, uninterrupted_short_run, tmp_path, caplog, monkeypatch
):
    out = tmp_path / "out"
    shutil.copytree(uninterrupted_short_run, out)
    (out / "model.safetensors").unlink()  # as if the run had been killed after its last checkpoint
    weights = out / "checkpoint-2" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-100])
    with caplog.at_level(logging.WARNING):
        run_in_process(tiny_run_config(tiny_corpus, out, **SAVE_RUN), tmp_path, monkeypatch)
    assert "checkpoint-2 is an incomplete checkpoint (model.safetensors is truncated" in caplog.text
    assert "checkpoint-1" in caplog.text and (out / ".incomplete-checkpoint-2").is_dir()
    assert_same_weights(uninterrupted_short_run, out)


def test_torchrun_with_two_processes_runs_the_demo_configuration(tmp_path):
    torchrun = shutil.which("torchrun", path=os.path.dirname(sys.executable))
    corpus = make_synthetic_corpus(tmp_path / "corpus", num_train=16, num_val=8, frame_size=32)
    overrides = ("--max_steps", "2", "--output_dir", str(tmp_path / "out"), "--per_device_train_batch_size", "4")
    overrides += ("--synthetic_corpus_dir", "", "--train_file", str(corpus.annotation_file("train")))
    overrides += ("--validation_file", str(corpus.annotation_file("val")), "--video_root", str(corpus.root))
    overrides += ("--dataloader_num_workers", "0", "--save_strategy", "no")
    config = json.loads((ROOT / "configs" / "demo.json").read_text())
    run_script(config, tmp_path, torchrun, "--nproc_per_node", "2", extra_args=overrides)
    results = json.loads((tmp_path / "out" / "eval_results.json").read_text())
    assert results["eval_num_pairs"] == 8


def test_gradient_accumulation_steps_like_one_batch_of_the_averaged_micro_batches(tmp_path):
    torch.manual_seed(0)
    model = ViCLIPModel(ViCLIPConfig(**tiny_config_kwargs()))
    initial = {name: p.detach().clone() for name, p in model.named_parameters()}
    items = [
        {
            "pixel_values": torch.randn(4, 3, 32, 32),
            "input_ids": torch.tensor([49406, 320 + i, 49407, 0]),
            "attention_mask": torch.tensor([1, 1, 1, 0]),
        }
        for i in range(4)
    ]
    args = TrainingArguments(
        output_dir=str(tmp_path),
        per_device_train_batch_size=2,
        gradient_accumulation_steps=2,
        max_steps=1,
        optim="sgd",
        learning_rate=0.5,
        weight_decay=0.0,
        max_grad_norm=0.0,
        lr_scheduler_type="constant",
        train_sampling_strategy="sequential",
        remove_unused_columns=False,
        report_to="none",
        save_strategy="no",
        use_cpu=True,
    )
    ViCLIPTrainer(model=model, args=args, train_dataset=items).train()

    reference = ViCLIPModel(ViCLIPConfig(**tiny_config_kwargs()))
    reference.load_state_dict(initial)
    losses = []
    for micro_batch in (items[:2], items[2:]):
        batch = {key: torch.stack([item[key] for item in micro_batch]) for key in micro_batch[0]}
        losses.append(reference(**batch, return_loss=True).loss)
    ((losses[0] + losses[1]) / 2).backward()
    for name, parameter in reference.named_parameters():
        expected = initial[name] - 0.5 * parameter.grad
        torch.testing.assert_close(dict(model.named_parameters())[name].detach(), expected, rtol=0, atol=1e-5)


@pytest.mark.parametrize("model_class", [ViCLIPModel, ViCLIPForVideoClassification])
def test_a_batch_whose_every_video_failed_is_a_zero_weight_step(tmp_path, model_class):
    torch.manual_seed(0)
    model = model_class(ViCLIPConfig(**tiny_config_kwargs(), num_labels=2))
    initial = {name: parameter.detach().clone() for name, parameter in model.named_parameters()}
    skipped = SkippedSample(index=0, video="missing.mp4", reason="no file", error="FileNotFoundError")
    args = TrainingArguments(
        output_dir=str(tmp_path), per_device_train_batch_size=1, max_steps=1, optim="sgd", learning_rate=0.5,
        weight_decay=0.0, remove_unused_columns=False, report_to="none", save_strategy="no", use_cpu=True,
    )  # fmt: skip
    trainer = ViCLIPTrainer(
        model=model,
        args=args,
        train_dataset=[skipped],
        data_collator=VideoDataCollator(),
        max_failed_fraction=1.0,
    )
    trainer.train()
    assert trainer.state.global_step == 1 and trainer.skipped_log.total_failed == 1
    for name, parameter in model.named_parameters():
        torch.testing.assert_close(parameter.detach(), initial[name], rtol=0, atol=0, msg=name)


def test_weight_decay_spares_biases_norms_embedding_tables_and_logit_scale():
    model = ViCLIPModel(ViCLIPConfig(**tiny_config_kwargs()))
    decayed = set(decay_parameter_names(model))
    assert "vision_model.encoder.layers.0.self_attn.qkv.weight" in decayed
    assert "vision_model.embeddings.patch_embedding.weight" in decayed
    assert "visual_projection.weight" in decayed
    for spared in (
        "logit_scale",
        "vision_model.embeddings.class_embedding",
        "vision_model.embeddings.position_embedding.weight",
        "vision_model.embeddings.temporal_embedding",
        "text_model.embeddings.token_embedding.weight",
        "text_model.embeddings.position_embedding.weight",
        "vision_model.encoder.layers.0.self_attn.qkv.bias",
        "vision_model.pre_layernorm.weight",
        "text_model.final_layer_norm.bias",
    ):
        assert spared not in decayed, spared


def test_logit_scale_is_capped_at_ln_100_after_every_step():
    model = ViCLIPModel(ViCLIPConfig(**tiny_config_kwargs()))
    with torch.no_grad():
        model.logit_scale.fill_(5.0)
    ClampLogitScaleCallback().on_step_end(None, None, None, model=model)
    assert model.logit_scale.item() == pytest.approx(math.log(100.0))


def test_json_config_values_are_overridden_by_later_flags(tmp_path):
    config_file = tmp_path / "run.json"
    config_file.write_text(json.dumps({"output_dir": "from-json", "max_steps": 5, "report_to": "none"}))
    parser = HfArgumentParser((TrainingArguments,))
    (args,) = parse_arguments_with_json(parser, [str(config_file), "--max_steps", "2"])
    assert (args.output_dir, args.max_steps) == ("from-json", 2)


@pytest.mark.parametrize("rerun", [{}, {"max_steps": 1}], ids=["same-max-steps", "lower-max-steps"])
def test_rerunning_a_finished_run_trains_nothing_and_keeps_its_results(tiny_corpus, tmp_path, monkeypatch, rerun):
    output_dir = tmp_path / "out"
    config = tiny_run_config(tiny_corpus, output_dir)  # --max_steps 2, a checkpoint at step 2
    run_in_process(config, tmp_path, monkeypatch)
    kept = ["train_results.json", "eval_results.json", "all_results.json", "README.md", "model.safetensors"]
    finished = {name: (output_dir / name).read_bytes() for name in kept}
    messages = []
    monkeypatch.setattr(trainer_module.logger, "warning", lambda message, *args: messages.append(message))
    run_in_process({**config, **rerun}, tmp_path, monkeypatch)
    assert any(m.startswith("Nothing left to train:") and "step 2 of --max_steps" in m for m in messages)
    assert json.loads((output_dir / "trainer_state.json").read_text())["global_step"] == 2
    assert {name: (output_dir / name).read_bytes() for name in kept} == finished


def pretraining_parser() -> HfArgumentParser:
    return HfArgumentParser((run_pretrain.ModelArguments, run_pretrain.DataArguments, TrainingArguments))


def test_a_data_source_after_a_json_config_replaces_the_configs_source(tmp_path, monkeypatch, caplog):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine.csv").write_text("video,caption\na.mp4,a clip\n")
    (tmp_path / "videos").mkdir()
    arguments = [str(ROOT / "configs" / "demo.json"), "--train_file", "mine.csv", "--video_root", "videos"]
    with caplog.at_level(logging.WARNING):
        _, data_args, _ = parse_arguments_with_json(pretraining_parser(), arguments)
    assert (data_args.train_file, data_args.synthetic_corpus_dir) == ("mine.csv", None)
    assert "--train_file on the command line replaces 'synthetic_corpus_dir' (data/synthetic)" in caplog.text


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--synthetic_corpus_dir", "data", "--train_file", "mine.csv"], "--synthetic_corpus_dir and --train_file on"),
        (["--train_file=mine.csv", "--dataset_name", "org/videos"], "--train_file and --dataset_name on the command"),
    ],
)
def test_two_data_sources_in_one_place_are_an_error_naming_both(tmp_path, monkeypatch, arguments, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine.csv").write_text("video,caption\na.mp4,a clip\n")
    with pytest.raises(ValueError, match=message + ".* name two training data sources"):
        parse_arguments_with_json(pretraining_parser(), [*arguments, "--output_dir", "out"])


def test_evaluating_on_other_data_than_a_configs_synthetic_corpus_needs_the_training_data_too(tmp_path):
    (tmp_path / "val.csv").write_text("video,caption\na.mp4,a clip\n")
    arguments = [str(ROOT / "configs" / "demo.json"), "--validation_file", str(tmp_path / "val.csv")]
    with pytest.raises(ValueError, match="--validation_file on the command line and 'synthetic_corpus_dir' in"):
        parse_arguments_with_json(pretraining_parser(), arguments)


def test_unknown_key_in_a_json_config_is_an_error_naming_it_and_the_closest_flag(tmp_path):
    config_file = tmp_path / "run.json"
    config_file.write_text(json.dumps({"output_dir": "out", "num_train_epoch": 3}))
    with pytest.raises(ValueError, match="'num_train_epoch' is not a flag of this script; did you mean 'num_train_ep"):
        parse_arguments_with_json(pretraining_parser(), [str(config_file)])


def test_abbreviated_flags_are_refused_not_matched_to_the_flag_they_start():
    arguments = ["--output_dir", "out", "--config_name", "viclip-b16", "--max_step", "2"]
    with pytest.raises(ValueError, match=r"not used by the HfArgumentParser: \['--max_step', '2'\]"):
        parse_arguments_with_json(pretraining_parser(), arguments)


def test_every_command_line_parser_of_the_project_refuses_abbreviated_flags():
    files = [*ROOT.glob("*.py"), *ROOT.glob("viclip_train/**/*.py"), *ROOT.glob("bench/*.py")]
    parsers = [
        (path.name, call)
        for path in files
        for call in re.findall(r"ArgumentParser\((.*?)\n    \)|ArgumentParser\((.*?)\)\n", path.read_text(), re.S)
    ]
    assert len(parsers) >= 20
    assert [name for name, call in parsers if "allow_abbrev=False" not in "".join(call)] == []


def test_fsdp_on_cpus_is_reported_as_having_no_effect(tmp_path, caplog):
    parser = HfArgumentParser((TrainingArguments,))
    arguments = ["--output_dir", str(tmp_path), "--use_cpu", "true", "--fsdp", "full_shard", "--report_to", "none"]
    with caplog.at_level(logging.WARNING):
        parse_arguments_with_json(parser, arguments)
    assert "--fsdp has no effect on CPUs" in caplog.text


def test_publish_folder_uploads_the_output_folder_as_it_is(tmp_path, monkeypatch):
    calls = {}

    class FakeApi:
        def __init__(self, token=None):
            calls["token"] = token

        def create_repo(self, repo_id, **kwargs):
            calls["create_repo"] = repo_id

        def upload_folder(self, **kwargs):
            calls["upload_folder"] = kwargs
            return "https://example.invalid/commit/1"

    monkeypatch.setattr("huggingface_hub.HfApi", FakeApi)
    (tmp_path / "model.safetensors").write_bytes(b"")
    publish_folder(tmp_path, "user/viclip-demo", token="secret")
    assert calls["create_repo"] == "user/viclip-demo"
    assert calls["upload_folder"]["folder_path"] == str(tmp_path)
    assert "checkpoint-*" in calls["upload_folder"]["ignore_patterns"]


PRETRAINING_RECIPES = ["demo.json"] + sorted(path.name for path in (ROOT / "configs").glob("viclip_*.json"))


@pytest.mark.parametrize("recipe", PRETRAINING_RECIPES)
def test_shipped_recipes_parse_into_the_script_arguments(recipe, tmp_path, monkeypatch):
    import importlib.util

    spec = importlib.util.spec_from_file_location("run_pretrain", SCRIPT)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    parser = HfArgumentParser((script.ModelArguments, script.DataArguments, TrainingArguments))
    arguments = [str(ROOT / "configs" / recipe), "--use_cpu", "true"]  # bf16 recipes need a GPU or use_cpu
    monkeypatch.chdir(tmp_path)  # the recipes' files, which their arguments check exist
    (tmp_path / "annotations").mkdir()
    (tmp_path / "annotations" / "InternVid-10M-FLT.jsonl").write_text("")
    (tmp_path / "videos").mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)  # no deprecated key (gradient_checkpointing)
        model_args, _, training_args = parse_arguments_with_json(parser, arguments)
    assert model_args.model_name_or_path or model_args.clip_model_name_or_path or model_args.config_name
    assert training_args.output_dir


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--mask_ratio", "1.0"], r"--mask_ratio .* in \[0, 1\), got 1.0"),
        (["--mask_ratio", "-0.1"], r"--mask_ratio .* in \[0, 1\), got -0.1"),
        (["--decode_size", "0"], r"--decode_size .* at least 1; got 0"),
        (["--decode_size", "-64"], r"--decode_size .* at least 1; got -64"),
        (
            ["--config_overrides", '{"vision_config": {"drop_path_rate": 0.1}'],
            r"--config_overrides must be a JSON object",
        ),
        (["--config_overrides", '["a list"]'], r"--config_overrides must be a JSON object"),
        (
            ["--config_overrides", '{"vision_config": {"drop_rate": 0.1}}'],
            r"vision_config has no fields \['drop_rate'\]",
        ),
        (["--config_overrides", '{"hidden_size": 8}'], r"ViCLIPConfig has no field 'hidden_size'"),
        (["--config_overrides", '{"vision_config": {"num_attention_heads": 5}}'], r"num_attention_heads"),
        (["--max_failed_fraction", "1.5"], r"--max_failed_fraction is a share in \[0, 1\]"),
        (["--video_backend", "quicktime"], r"quicktime"),
        (["--train_file", "missing.json"], r"--train_file missing.json does not exist"),
    ],
)
def test_bad_flags_and_overrides_stop_the_run_before_any_data_is_read(
    tiny_corpus, tmp_path, monkeypatch, flags, message
):
    def no_data(*args, **kwargs):
        raise AssertionError("annotations were read before the arguments were validated")

    monkeypatch.setattr(run_pretrain, "load_splits", no_data)
    config = tiny_run_config(tiny_corpus, tmp_path / "out")
    config.pop("config_overrides")
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(config))
    monkeypatch.setattr(sys, "argv", ["run_pretrain.py", str(config_file), *flags])
    with pytest.raises(Exception, match=message):  # ValueError, FileNotFoundError or the config's validation error
        run_pretrain.main()
    assert not (tmp_path / "out").exists()


def test_push_to_hub_without_write_access_fails_in_one_line_before_training(tiny_corpus, tmp_path, monkeypatch):
    class ReadOnlyToken:
        def __init__(self, token=None):
            pass

        def whoami(self):
            return {"name": "someone", "orgs": [], "auth": {"accessToken": {"displayName": "ro", "role": "read"}}}

    monkeypatch.setattr("huggingface_hub.HfApi", ReadOnlyToken)
    config = tiny_run_config(tiny_corpus, tmp_path / "out", push_to_hub=True, hub_model_id="someone/tiny")
    with pytest.raises(SystemExit) as stopped:  # one line, no traceback, as the converter ends
        run_in_process(config, tmp_path, monkeypatch)
    assert re.match(r"error: --push_to_hub someone/tiny: the token 'ro' of 'someone' cannot write", stopped.value.code)
    assert "\n" not in stopped.value.code and stopped.value.__suppress_context__
    assert not (tmp_path / "out").exists()  # nothing trained


@pytest.mark.parametrize(
    "whoami, repo_id, expected",
    [
        ({"name": "me", "auth": {"accessToken": {"role": "write"}}}, "me/model", None),
        ({"name": "me", "orgs": [{"name": "lab"}], "auth": {"accessToken": {"role": "write"}}}, "lab/model", None),
        ({"name": "me", "auth": {"accessToken": {"role": "write"}}}, "lab/model", "not a member of 'lab'"),
        (
            {"name": "me", "auth": {"accessToken": {"role": "fineGrained", "fineGrained": {"scoped": [
                {"entity": {"type": "user", "name": "me"}, "permissions": ["repo.content.read", "repo.write"]}]}}}},
            "me/model",
            None,
        ),
        (
            {"name": "me", "auth": {"accessToken": {"role": "fineGrained", "fineGrained": {"scoped": [
                {"entity": {"type": "user", "name": "me"}, "permissions": ["repo.content.read"]}]}}}},
            "model",
            "cannot write",
        ),
    ],
)  # fmt: skip
def test_hub_write_access_check(monkeypatch, whoami, repo_id, expected):
    class Api:
        def __init__(self, token=None):
            pass

        def whoami(self):
            return whoami

    monkeypatch.setattr("huggingface_hub.HfApi", Api)
    if expected is None:
        assert check_hub_write_access(repo_id) == "me"
    else:
        with pytest.raises(HubAccessError, match=expected):
            check_hub_write_access(repo_id)


def test_unreachable_hub_fails_the_push_check_in_one_line(monkeypatch):
    class Offline:
        def __init__(self, token=None):
            pass

        def whoami(self):
            raise ConnectionError("Failed to resolve huggingface.co")

    monkeypatch.setattr("huggingface_hub.HfApi", Offline)
    with pytest.raises(HubAccessError, match="cannot reach the Hub with a valid token") as error:
        check_hub_write_access("me/model")
    assert "\n" not in str(error.value)


def _annotation_rows(corpus, split):
    return [
        {"video": row["video"], "caption": row["caption"]}
        for row in json.loads(corpus.annotation_file(split).read_text())
    ]


def _data_args(**fields):
    return run_pretrain.DataArguments(**fields)


def _training_args(tmp_path, **fields):
    return TrainingArguments(output_dir=str(tmp_path / "out"), use_cpu=True, report_to="none", **fields)


def test_a_saved_plain_dataset_is_used_as_the_training_split_and_says_so(tiny_corpus, tmp_path, caplog):
    datasets.Dataset.from_list(_annotation_rows(tiny_corpus, "train")).save_to_disk(tmp_path / "plain")
    data_args = _data_args(dataset_name=str(tmp_path / "plain"), video_root=str(tiny_corpus.root))
    with caplog.at_level(logging.WARNING):
        train, validation = load_splits(
            data_args, _training_args(tmp_path), caption_column="caption", label_column=None, need_train=True,
            need_eval=False,
        )  # fmt: skip
    assert len(train.annotations) == 8 and validation is None
    assert "single Dataset without splits: it is used as the training split" in caplog.text
    with pytest.raises(ValueError, match="can be the training or the evaluation data but not both"):
        load_splits(
            data_args, _training_args(tmp_path), caption_column="caption", label_column=None, need_train=True,
            need_eval=True,
        )  # fmt: skip


def test_a_folder_of_json_files_and_data_files_give_their_splits(tiny_corpus, tmp_path):
    folder = tmp_path / "annotations"
    folder.mkdir()
    for split, name in (("train", "train"), ("val", "validation")):
        rows = _annotation_rows(tiny_corpus, split)
        (folder / f"{name}.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    common = {"caption_column": "caption", "label_column": None, "need_train": True, "need_eval": True}
    for data_args in (
        _data_args(dataset_name=str(folder), video_root=str(tiny_corpus.root)),
        _data_args(
            data_files=[f"train={folder / 'train.jsonl'}", f"validation={folder / 'validation.jsonl'}"],
            video_root=str(tiny_corpus.root),
        ),
    ):
        train, validation = load_splits(data_args, _training_args(tmp_path), **common)
        assert (len(train.annotations), len(validation.annotations)) == (8, 4)
        assert train.annotations[0]["caption"] == _annotation_rows(tiny_corpus, "train")[0]["caption"]


def test_do_eval_without_evaluation_data_is_an_error(tiny_corpus, tmp_path):
    data_args = _data_args(train_file=str(tiny_corpus.annotation_file("train")), video_root=str(tiny_corpus.root))
    with pytest.raises(ValueError, match="--do_eval needs evaluation data"):
        load_splits(
            data_args, _training_args(tmp_path), caption_column="caption", label_column=None, need_train=True,
            need_eval=True,
        )  # fmt: skip


def test_a_clean_run_prints_no_warning_of_the_projects_making(tiny_corpus, tmp_path, monkeypatch):
    config = tiny_run_config(tiny_corpus, tmp_path / "out", dataloader_pin_memory=True, save_strategy="no")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run_in_process(config, tmp_path, monkeypatch)
    ours = [
        str(w.message) for w in caught if re.search("requires_grad|pin_memory|gradient_checkpointing", str(w.message))
    ]
    assert ours == []
    for recipe in (ROOT / "configs").glob("*.json"):
        assert "gradient_checkpointing" not in json.loads(recipe.read_text()), recipe.name
