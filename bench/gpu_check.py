"""One prepared check of ViCLIP on a CUDA machine (random weights; speed does not depend on the values):

- parity: bf16 weights with each attention backend (`eager`, the original's way; `sdpa`; `flash_attention_2` when
  flash-attn imports) against fp32 weights with `eager`, on the video and the text embeddings of the same inputs
  (cosine >= `--threshold`);
- inference: videos per second and MFU of `get_video_features` at `--batch_size` (32), bf16 weights;
- pretraining: one masked training step (`--mask_ratio` 0.9, the reference's first stage) of the dual encoder with
  bf16 autocast over fp32 weights and AdamW, videos per second and MFU;
- the peak GPU memory of each, and which fused attention kernels each launched (by the names of the CUDA kernels a
  profiled call ran: `sdpa` should reach FlashAttention or cuDNN kernels with bf16 on a recent GPU, and this says if not).

    python bench/gpu_check.py                          # B/16 and L/14, on CUDA
    pip install ".[flash]" && python bench/gpu_check.py  # with flash_attention_2
    python bench/gpu_check.py --tiny --device cpu      # smoke run of the script itself, seconds on a CPU

Prints one Markdown table (a row per model size and attention backend) and exits with status 1 if a parity check
fails. MFU is model FLOPs (matmuls and attention products, forward; a training step counts 3x the forward) per second
over the device's dense bf16 peak (`--peak_tflops`, or the data-sheet value of the GPU by name, or a measured bf16
matmul peak when the name is not known).
"""

import argparse
import contextlib
import importlib.util
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

from viclip import ViCLIPConfig, ViCLIPModel


sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_model import matmul_flops  # noqa: E402 (a sibling benchmark script)


# Dense bf16 tensor-core peaks from the data sheets, TFLOP/s, by a substring of `torch.cuda.get_device_name()`.
DENSE_BF16_PEAK_TFLOPS = {
    "H200": 989.0,
    "H100 PCIe": 756.0,
    "H100 NVL": 835.0,
    "H100": 989.0,  # SXM
    "A100": 312.0,
    "L40S": 362.0,
    "A10G": 70.0,
}
# The smoke-run model: every size tiny, so the whole script runs on a CPU in seconds.
TINY_CONFIG = {
    "projection_dim": 16,
    "text_config": {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4},
    "vision_config": {
        "image_size": 32,
        "patch_size": 16,
        "num_frames": 4,
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
    },
}
CAPTION_TOKENS = 32


def text_matmul_flops(config: ViCLIPConfig, tokens: int = CAPTION_TOKENS) -> float:
    """Multiply-add FLOPs (x2) of one caption through the text tower and its projection."""
    text = config.text_config
    width, mlp = text.hidden_size, text.intermediate_size
    linear = text.num_hidden_layers * 2 * tokens * (4 * width * width + 2 * width * mlp)
    attention = text.num_hidden_layers * 4 * tokens * tokens * width
    return linear + attention + 2 * width * config.projection_dim


def kept_token_ratio(config: ViCLIPConfig, mask_ratio: float) -> float:
    """Share of a clip's patch tokens a masked training step keeps (the model drops `int(mask_ratio * tokens)`)."""
    vision = config.vision_config
    tokens = vision.num_frames * (vision.image_size // vision.patch_size) ** 2
    return 1.0 - int(mask_ratio * tokens) / tokens


def peak_tflops(device: torch.device, override: float | None) -> tuple[float, str]:
    """The device's dense bf16 peak and where the number comes from."""
    if override:
        return override, "--peak_tflops"
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        for key, tflops in DENSE_BF16_PEAK_TFLOPS.items():
            if key in name:
                return tflops, f"data sheet ({key})"
    # CPUs without bf16 units emulate it slowly: there the fp32 matmul is the fair ceiling
    size, dtype = (4096, torch.bfloat16) if device.type == "cuda" else (512, torch.float32)
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    seconds = median_seconds(lambda: a @ b, device, repeats=5)
    return 2 * size**3 / seconds / 1e12, f"measured {str(dtype).removeprefix('torch.')} matmul"


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_seconds(work: Callable[[], object], device: torch.device, repeats: int) -> float:
    """Median seconds of `work` over `repeats` runs after one warm-up run."""
    work()
    times = []
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        work()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def attention_kernels(work: Callable[[], object], device: torch.device) -> str:
    """The fused attention kernels one call of `work` launches, by CUDA kernel name ("math" when none; "-" on a CPU)."""
    if device.type != "cuda":
        return "-"
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA]) as profiler:
        work()
        synchronize(device)
    names = [event.key.lower() for event in profiler.key_averages()]
    families = {
        "cuDNN": lambda name: "cudnn" in name and ("sdpa" in name or "fmha" in name or "flash" in name),
        "flash": lambda name: "flash" in name and "cudnn" not in name,
        "mem-efficient": lambda name: "fmha" in name and "cudnn" not in name,
    }
    found = [family for family, matches in families.items() if any(matches(name) for name in names)]
    return "+".join(found) or "math"


@contextlib.contextmanager
def peak_memory(device: torch.device, result: dict):
    """Records the peak GPU memory allocated inside the block, in GiB, as `result["peak_gib"]` (nan on a CPU)."""
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    yield
    result["peak_gib"] = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else float("nan")


def build_model(config: ViCLIPConfig, device: torch.device) -> ViCLIPModel:
    torch.manual_seed(0)
    model = ViCLIPModel(config)
    with torch.no_grad():  # a non-zero temporal table, as trained checkpoints have
        model.vision_model.embeddings.temporal_embedding.normal_(std=0.02)
    return model.to(device).eval()


def random_inputs(config: ViCLIPConfig, batch_size: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalised-looking videos and captions `[SOT] tokens [EOT] 0...` of the text context's length."""
    generator = torch.Generator().manual_seed(1)
    size = config.vision_config.image_size
    videos = torch.randn(batch_size, config.vision_config.num_frames, 3, size, size, generator=generator)
    vocab_size = config.text_config.vocab_size
    content = torch.randint(1, vocab_size - 2, (batch_size, 10), generator=generator)
    captions = torch.zeros(batch_size, CAPTION_TOKENS, dtype=torch.long)
    captions[:, 0], captions[:, 1:11], captions[:, 11] = vocab_size - 2, content, vocab_size - 1
    return videos.to(device), captions.to(device)


def embeddings(model: ViCLIPModel, videos: torch.Tensor, captions: torch.Tensor) -> torch.Tensor:
    """Video and text embeddings of the inputs, one row each, in float32."""
    with torch.inference_mode():
        video_embeds = model.get_video_features(pixel_values=videos.to(model.dtype)).pooler_output
        text_embeds = model.get_text_features(input_ids=captions).pooler_output
    return torch.cat([video_embeds, text_embeds]).float()


def inference_row(model: ViCLIPModel, config: ViCLIPConfig, args, device, peak: float) -> dict:
    videos, _ = random_inputs(config, args.batch_size, device)
    videos = videos.to(model.dtype)

    def work() -> None:
        with torch.inference_mode():
            model.get_video_features(pixel_values=videos)

    result = {}
    with peak_memory(device, result):
        seconds = median_seconds(work, device, args.repeats)
    videos_per_second = args.batch_size / seconds
    flops = matmul_flops(config, config.num_frames)
    return {
        "inference_kernels": attention_kernels(work, device),
        "inference_videos_per_s": videos_per_second,
        "inference_mfu": videos_per_second * flops / (peak * 1e12),
        "inference_peak_gib": result["peak_gib"],
    }


def training_row(config: ViCLIPConfig, attention: str, args, device, peak: float) -> dict:
    """One masked pretraining step: fp32 weights, bf16 autocast, AdamW, the contrastive loss of the batch."""
    model = build_model(config, device).train()
    model.set_attn_implementation(attention)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5, fused=device.type == "cuda")
    videos, captions = random_inputs(config, args.batch_size, device)

    def work() -> None:
        with torch.autocast(device.type, dtype=torch.bfloat16):
            loss = model(input_ids=captions, pixel_values=videos, return_loss=True, mask_ratio=args.mask_ratio).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    result = {}
    with peak_memory(device, result):
        seconds = median_seconds(work, device, args.repeats)
    videos_per_second = args.batch_size / seconds
    kept_ratio = kept_token_ratio(config, args.mask_ratio)
    forward_flops = matmul_flops(config, config.num_frames, kept_ratio) + text_matmul_flops(config)
    return {
        "train_kernels": attention_kernels(work, device),
        "train_videos_per_s": videos_per_second,
        "train_mfu": videos_per_second * 3 * forward_flops / (peak * 1e12),
        "train_peak_gib": result["peak_gib"],
    }


def check_preset(name: str, config: ViCLIPConfig, backends: list[str], args, device, peak: float) -> list[dict]:
    model = build_model(config, device)
    videos, captions = random_inputs(config, args.num_check_videos, device)
    model.set_attn_implementation("eager")
    reference = embeddings(model, videos, captions)  # fp32 weights, eager attention
    model = model.to(torch.bfloat16)
    rows = []
    for attention in backends:
        model.set_attn_implementation(attention)
        cosine = torch.nn.functional.cosine_similarity(embeddings(model, videos, captions), reference).min().item()
        row = {"model": name, "attention": attention, "min_cosine": cosine}
        row.update(inference_row(model, config, args, device, peak))
        rows.append(row)
    del model
    for row in rows:
        row.update(training_row(config, row["attention"], args, device, peak))
        print(f"  {name} {row['attention']}: done", file=sys.stderr, flush=True)
    return rows


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--presets",
        nargs="+",
        default=["viclip-b16", "viclip-l14"],
        help="model sizes to check, by preset name (default: viclip-b16 viclip-l14)",
    )
    parser.add_argument(
        "--tiny", action="store_true", help="check a tiny model instead of --presets (a smoke run of this script)"
    )
    parser.add_argument("--device", default="cuda", help="torch device to run on (default: cuda)")
    parser.add_argument(
        "--batch_size", type=int, default=32, help="videos per batch for the inference and training timings"
    )
    parser.add_argument(
        "--num_check_videos",
        type=int,
        default=8,
        help="videos (and as many captions) compared between bf16 and fp32 eager",
    )
    parser.add_argument("--repeats", type=int, default=5, help="timed batches per measurement, after one warm-up")
    parser.add_argument(
        "--mask_ratio", type=float, default=0.9, help="share of patch tokens dropped in the training step"
    )
    parser.add_argument(
        "--threshold", type=float, default=0.999, help="minimum cosine similarity of bf16 to fp32 eager embeddings"
    )
    parser.add_argument(
        "--peak_tflops",
        type=float,
        help="dense bf16 peak of the device for the MFU, TFLOP/s (default: the data sheet by GPU name, else measured)",
    )
    parser.add_argument(
        "--no_flash",
        action="store_true",
        help="leave out flash_attention_2 even when flash-attn imports",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        sys.exit("gpu_check.py needs a CUDA device (or `--tiny --device cpu` for a smoke run of the script).")
    configs = (
        {"tiny": ViCLIPConfig(**TINY_CONFIG)}
        if args.tiny
        else {name: ViCLIPConfig.from_preset(name) for name in args.presets}
    )
    has_flash = device.type == "cuda" and importlib.util.find_spec("flash_attn") is not None
    backends = ["eager", "sdpa"] + (["flash_attention_2"] if has_flash and not args.no_flash else [])
    peak, peak_source = peak_tflops(device, args.peak_tflops)

    rows = []
    for name, config in configs.items():
        rows += check_preset(name, config, backends, args, device, peak)

    device_name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(
        f"\n{device_name}, torch {torch.__version__}, peak {peak:.3g} TFLOP/s ({peak_source}); parity and "
        f"inference with bf16 weights, training with fp32 weights under bf16 autocast and AdamW; batch "
        f"{args.batch_size}, mask ratio {args.mask_ratio} in training; median of {args.repeats}\n"
    )
    print(
        "| model | attention | min cosine to fp32 eager | inference videos/s | inference MFU | inference peak GiB "
        "| train step videos/s | train MFU | train peak GiB | attention kernels (inference / train) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    failed = []
    for row in rows:
        passed = row["min_cosine"] >= args.threshold
        if not passed:
            failed.append(f"{row['model']} {row['attention']}")
        print(
            f"| {row['model']} | {row['attention']} | {row['min_cosine']:.5f}{'' if passed else ' FAIL'} "
            f"| {row['inference_videos_per_s']:.1f} | {row['inference_mfu']:.1%} | {row['inference_peak_gib']:.2f} "
            f"| {row['train_videos_per_s']:.1f} | {row['train_mfu']:.1%} | {row['train_peak_gib']:.2f} "
            f"| {row['inference_kernels']} / {row['train_kernels']} |"
        )
    if not has_flash and device.type == "cuda" and not args.no_flash:
        print("\nflash_attention_2 left out: flash-attn does not import (pip install '.[flash]').")
    if failed:
        print(f"\nParity failed (cosine < {args.threshold}): {', '.join(failed)}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
