"""Behaviour of `run_pretrain.py` and its Trainer pieces: the Hub-ready output, resuming, skipped videos, distributed
runs, gradient accumulation, weight decay, the logit-scale cap and publishing."""

import json
import logging
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import HfArgumentParser, TrainingArguments

from viclip import ViCLIPConfig, ViCLIPModel
from viclip_train.synthetic import make_synthetic_corpus
from viclip_train.trainer import (
    ClampLogitScaleCallback,
    ViCLIPTrainer,
    decay_parameter_names,
    parse_arguments_with_json,
    publish_folder,
)

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
) -> None:
    config_file = tmp_path / f"config-{abs(hash(json.dumps(config, sort_keys=True)))}.json"
    config_file.write_text(json.dumps(config))
    command = [*(launcher or (sys.executable,)), str(script), str(config_file), *extra_args]
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, capture_output=True, text=True, env=environment, cwd=tmp_path, timeout=600)
    (tmp_path / "run.log").write_text(result.stdout + result.stderr)
    assert result.returncode == returncode, (
        f"{command} exited with {result.returncode}, log in {tmp_path / 'run.log'}:\n{result.stderr[-3000:]}"
    )


# run_pretrain.py, killed (no clean-up, no final save) when step CRASH_AT_STEP + 1 is about to start.
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


def test_run_killed_mid_training_resumes_to_the_weights_of_an_uninterrupted_run(tiny_corpus, tmp_path):
    deterministic = {"mask_ratio": 0.0, "train_augmentation": False, "do_eval": False}
    # a schedule that changes every step, over two epochs: resuming must restore optimizer, scheduler and data order
    schedule = {"max_steps": 4, "save_steps": 2, "lr_scheduler_type": "cosine", "warmup_steps": 1}
    uninterrupted = tmp_path / "uninterrupted"
    run_script(tiny_run_config(tiny_corpus, uninterrupted, **deterministic, **schedule), tmp_path)
    interrupted = tmp_path / "interrupted"
    crashing_script = tmp_path / "crashing_run_pretrain.py"
    crashing_script.write_text(
        CRASHING_RUN.replace("CRASH_AT_STEP", "2").replace("CRASH_EXIT_CODE", str(CRASH_EXIT_CODE))
    )
    config = tiny_run_config(tiny_corpus, interrupted, **deterministic, **schedule)
    run_script(config, tmp_path, script=crashing_script, returncode=CRASH_EXIT_CODE)
    assert (interrupted / "checkpoint-2").is_dir() and not (interrupted / "model.safetensors").exists()
    run_script(config, tmp_path)  # the same command again resumes from checkpoint-2
    assert "Resuming from the latest checkpoint" in (tmp_path / "run.log").read_text()

    state = json.loads((interrupted / "trainer_state.json").read_text())
    assert state["global_step"] == 4
    expected, resumed = load_file(uninterrupted / "model.safetensors"), load_file(interrupted / "model.safetensors")
    assert expected.keys() == resumed.keys()
    for name in expected:
        torch.testing.assert_close(resumed[name], expected[name], rtol=0, atol=1e-6, msg=name)


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
def test_shipped_recipes_parse_into_the_script_arguments(recipe):
    import importlib.util

    spec = importlib.util.spec_from_file_location("run_pretrain", SCRIPT)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    parser = HfArgumentParser((script.ModelArguments, script.DataArguments, TrainingArguments))
    arguments = [str(ROOT / "configs" / recipe), "--use_cpu", "true"]  # bf16 recipes need a GPU or use_cpu
    model_args, _, training_args = parse_arguments_with_json(parser, arguments)
    assert model_args.model_name_or_path or model_args.clip_model_name_or_path or model_args.config_name
    assert training_args.output_dir
