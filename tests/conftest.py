"""Shared fixtures: tiny configurations and paths to the reference data."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


# Tests never reach the Hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

FIXTURES = Path(__file__).parent / "fixtures"


def tiny_config_kwargs(num_frames: int = 4, image_size: int = 32, patch_size: int = 16, **overrides) -> dict:
    """Keyword arguments of a ViCLIPConfig small enough for a CPU test to run in milliseconds."""
    return {
        "projection_dim": 16,
        "text_config": {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4},
        "vision_config": {
            "image_size": image_size,
            "patch_size": patch_size,
            "num_frames": num_frames,
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
        },
        **overrides,
    }


@pytest.fixture
def tiny_config():
    from viclip import ViCLIPConfig

    return ViCLIPConfig(**tiny_config_kwargs())


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def tiny_viclip_folder(tmp_path_factory) -> Path:
    """A saved tiny random `ViCLIPModel` with its processor (frames 32x32, 4 of them)."""
    import torch

    from viclip import ViCLIPConfig, ViCLIPModel

    from .processing_helpers import tiny_processor

    folder = tmp_path_factory.mktemp("viclip")
    torch.manual_seed(0)
    ViCLIPModel(ViCLIPConfig(**tiny_config_kwargs())).save_pretrained(folder)
    tiny_processor().save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def pretraining_demo_model(tmp_path_factory) -> Path:
    """The model of the pretraining demo (`configs/demo.json`), trained here so that a clean checkout can run the slow
    tests of the demos that start from it (a few minutes on a CPU; once per session)."""
    root = Path(__file__).resolve().parents[1]
    config = json.loads((root / "configs" / "demo.json").read_text())
    config["output_dir"] = str(tmp_path_factory.mktemp("demo-pretrain"))
    config_file = tmp_path_factory.mktemp("configs") / "demo.json"
    config_file.write_text(json.dumps(config))
    subprocess.run(
        [sys.executable, str(root / "run_pretrain.py"), str(config_file)], cwd=root, check=True, timeout=900
    )
    return Path(config["output_dir"])


@pytest.fixture(scope="module")
def index_video(tmp_path_factory):
    """A video whose frames show their index (`tests.processing_helpers.index_frame`): 20 s at 10 fps (200 frames), a
    key frame every second, 32x32."""
    from .processing_helpers import write_index_video

    return write_index_video(str(tmp_path_factory.mktemp("videos") / "index.mp4"), num_frames=200)
