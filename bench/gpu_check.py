"""One prepared check of ViCLIP's model step on one CUDA GPU, per model size, attention implementation and compilation:

- parity: bf16 weights with each attention implementation (`eager`, `sdpa`, and every flash-attention implementation
  transformers offers whose package imports: `flash_attention_2`, `flash_attention_3`, `flash_attention_4`) against
  fp32 weights with `eager`, on the video and the text embeddings of the same inputs (cosine >= `--threshold`);
- inference: videos per second and MFU of `get_video_features` at `--inference_batch_size`, bf16 weights;
- pretraining: one masked training step at the size's recipe (`configs/viclip_<size>_stage1.json`: its per-device
  batch, mask ratio, frozen text tower and activation checkpointing; `--train_batch_size` overrides the batch) with
  bf16 autocast over fp32 weights and fused AdamW, videos per second and MFU;
- each row eager (`--compile off`), under `torch.compile` (`--compile on`) or both (`--compile both`, the default):
  compiled rows say how many graph breaks dynamo took;
- the peak GPU memory of each, and which fused attention kernels each launched (by the names of the CUDA kernels a
  profiled call ran);
- `--profile`: the top CUDA kernels by time of one training step of the first size, eager and compiled.

    python bench/gpu_check.py                          # B/16 and L/14 at their recipe batches, on CUDA
    python bench/gpu_check.py --presets viclip-b16 --compile off --attention sdpa flash_attention_4
    python bench/gpu_check.py --tiny --device cpu      # smoke run of the script itself, seconds on a CPU

Prints one Markdown table, a row as soon as it is measured (so that a run stopped at `--time_budget` keeps what it
measured), and exits with status 1 if a parity check fails. MFU is model FLOPs (matmuls and attention products; a
training step counts the video tower 3x its forward and the frozen text tower 1x) per second over the device's dense
bf16 peak (`--peak_tflops`, or the data-sheet value of the GPU by name, or a measured bf16 matmul peak when the name is
not known). Activation checkpointing's recomputation is not counted, as MFU conventionally does not.
"""

import argparse
import contextlib
import importlib.util
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

from viclip import ViCLIPConfig, ViCLIPModel


BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
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
# The flash-attention implementations transformers offers, with the package each needs and the minimum compute
# capability of its kernels.
FLASH_IMPLEMENTATIONS = {
    "flash_attention_2": ("flash_attn", (8, 0)),
    "flash_attention_3": ("flash_attn_interface", (9, 0)),
    "flash_attention_4": ("flash_attn.cute", (9, 0)),
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
RECIPES = {"viclip-b16": "viclip_b16_stage1.json", "viclip-l14": "viclip_l14_stage1.json"}


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


def training_step_flops(config: ViCLIPConfig, mask_ratio: float, freeze_text: bool) -> float:
    """Model FLOPs of one clip's training step: the video tower's forward x3 (forward and backward), the text tower's
    x1 when it is frozen (no backward), x3 otherwise."""
    vision = matmul_flops(config, config.vision_config.num_frames, kept_token_ratio(config, mask_ratio))
    return 3 * vision + (1 if freeze_text else 3) * text_matmul_flops(config)


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


def median_seconds(work: Callable[[], object], device: torch.device, repeats: int, warmup: int = 1) -> float:
    """Median seconds of `work` over `repeats` runs after `warmup` runs."""
    for _ in range(warmup):
        work()
    times = []
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        work()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def available_attention(device: torch.device) -> list[str]:
    """`eager`, `sdpa`, and the flash-attention implementations whose package imports and whose kernels this GPU
    runs."""
    found = ["eager", "sdpa"]
    if device.type != "cuda":
        return found
    capability = torch.cuda.get_device_capability(device)
    for implementation, (module, minimum) in FLASH_IMPLEMENTATIONS.items():
        try:
            present = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:
            present = False
        if present and capability >= minimum:
            found.append(implementation)
    return found


def kernel_table(work: Callable[[], object], device: torch.device) -> list[tuple[str, float, int]]:
    """(name, total milliseconds, calls) of every CUDA kernel one call of `work` launches, most time first (on a CPU:
    every operator, by its own CPU time)."""
    activity = torch.profiler.ProfilerActivity.CUDA if device.type == "cuda" else torch.profiler.ProfilerActivity.CPU
    with torch.profiler.profile(activities=[activity]) as profiler:
        work()
        synchronize(device)
    rows = []
    for event in profiler.key_averages():
        if device.type == "cuda":
            microseconds = getattr(event, "device_time_total", None) or getattr(event, "cuda_time_total", 0)
        else:
            microseconds = event.self_cpu_time_total
        if microseconds > 0:
            rows.append((event.key, microseconds / 1e3, event.count))
    return sorted(rows, key=lambda row: -row[1])


def attention_kernels(work: Callable[[], object], device: torch.device) -> str:
    """The fused attention kernels one call of `work` launches, by CUDA kernel name ("math" when none; "-" on a CPU)."""
    if device.type != "cuda":
        return "-"
    names = [name.lower() for name, _, _ in kernel_table(work, device)]
    families = {
        "cuDNN": lambda name: "cudnn" in name and ("sdpa" in name or "fmha" in name or "flash" in name),
        "flash-cute": lambda name: "cute" in name or "flashattentionforwardsm90" in name or "flash_fwd_sm90" in name,
        "flash": lambda name: "flash" in name and "cudnn" not in name and "cute" not in name,
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


def graph_breaks() -> int:
    """Graph breaks dynamo has taken in this process so far."""
    from torch._dynamo.utils import counters

    return sum(counters["graph_break"].values())


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
        text_embeds = model.get_text_features(input_ids=captions, attention_mask=(captions > 0).long()).pooler_output
    return torch.cat([video_embeds, text_embeds]).float()


def recipe_of(name: str, tiny: bool) -> dict:
    """The training recipe a size is measured at: batch, mask ratio, frozen text, activation checkpointing."""
    recipe = {"per_device_train_batch_size": 4, "mask_ratio": 0.9, "freeze_text": True}
    if not tiny and name in RECIPES:
        recipe.update(json.loads((BENCH.parent / "configs" / RECIPES[name]).read_text()))
    return recipe


def inference_row(model, config: ViCLIPConfig, batch_size: int, compiled: bool, args, device, peak: float) -> dict:
    videos, _ = random_inputs(config, batch_size, device)
    videos = videos.to(model.dtype)
    embed = torch.compile(model.get_video_features) if compiled else model.get_video_features

    def work() -> None:
        with torch.inference_mode():
            embed(pixel_values=videos)

    result = {}
    with peak_memory(device, result):
        seconds = median_seconds(work, device, args.repeats, warmup=2 if compiled else 1)
    videos_per_second = batch_size / seconds
    return {
        "inference_kernels": attention_kernels(work, device),
        "inference_videos_per_s": videos_per_second,
        "inference_mfu": videos_per_second * matmul_flops(config, config.num_frames) / (peak * 1e12),
        "inference_peak_gib": result["peak_gib"],
    }


def build_training(config: ViCLIPConfig, attention: str, recipe: dict, device: torch.device):
    """fp32 weights with `attention`, the text tower frozen as the recipe says, activation checkpointing as it says,
    and fused AdamW over the trainable parameters."""
    model = build_model(config, device).train()
    model.set_attn_implementation(attention)
    if recipe.get("freeze_text", True):
        model.text_model.requires_grad_(False)
        model.text_projection.requires_grad_(False)
    if recipe.get("activation_checkpointing"):
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    trainable = [parameter for parameter in model.parameters() if parameter.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=1e-5, fused=device.type == "cuda")
    return model, optimizer


def training_work(model, optimizer, config, recipe: dict, batch_size: int, compiled: bool, device) -> Callable:
    """One masked pretraining step: bf16 autocast over fp32 weights, the contrastive loss of the batch, AdamW."""
    videos, captions = random_inputs(config, batch_size, device)
    attention_mask = (captions > 0).long()
    forward = torch.compile(model) if compiled else model

    def work() -> None:
        with torch.autocast(device.type, dtype=torch.bfloat16):
            loss = forward(
                input_ids=captions,
                attention_mask=attention_mask,
                pixel_values=videos,
                return_loss=True,
                mask_ratio=recipe["mask_ratio"],
            ).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return work


def training_row(config, attention: str, recipe: dict, batch_size: int, compiled: bool, args, device, peak) -> dict:
    model, optimizer = build_training(config, attention, recipe, device)
    work = training_work(model, optimizer, config, recipe, batch_size, compiled, device)
    result = {}
    with peak_memory(device, result):
        seconds = median_seconds(work, device, args.repeats, warmup=2 if compiled else 1)
    videos_per_second = batch_size / seconds
    flops = training_step_flops(config, recipe["mask_ratio"], recipe.get("freeze_text", True))
    return {
        "train_kernels": attention_kernels(work, device),
        "train_videos_per_s": videos_per_second,
        "train_mfu": videos_per_second * flops / (peak * 1e12),
        "train_peak_gib": result["peak_gib"],
    }


def print_profile(config, recipe: dict, batch_size: int, compiled: bool, device, top: int) -> None:
    """The `top` CUDA kernels by time of one sdpa training step (after warm-up), as a Markdown table."""
    model, optimizer = build_training(config, "sdpa", recipe, device)
    work = training_work(model, optimizer, config, recipe, batch_size, compiled, device)
    for _ in range(2 if compiled else 1):
        work()
    rows = kernel_table(work, device)
    total = sum(milliseconds for _, milliseconds, _ in rows) or float("nan")
    label = "compiled" if compiled else "eager"
    kind = "CUDA kernels" if device.type == "cuda" else "operators"
    print(f"\nTop {kind} of one training step ({label}, sdpa, batch {batch_size}), of {total:.1f} ms in all:\n")
    print("| kernel | ms | share | calls |\n|---|---|---|---|")
    for name, milliseconds, calls in rows[:top]:
        print(f"| `{name[:110]}` | {milliseconds:.2f} | {milliseconds / total:.1%} | {calls} |")
    sys.stdout.flush()


def format_row(row: dict, threshold: float) -> str:
    passed = row["min_cosine"] >= threshold
    cells = [
        row["model"],
        row["attention"],
        row["compiled"],
        f"{row['min_cosine']:.5f}{'' if passed else ' FAIL'}",
    ]
    for kind in ("inference", "train"):
        if f"{kind}_videos_per_s" in row:
            cells += [
                str(row[f"{kind}_batch"]),
                f"{row[f'{kind}_videos_per_s']:.1f}",
                f"{row[f'{kind}_mfu']:.1%}",
                f"{row[f'{kind}_peak_gib']:.2f}",
            ]
        else:
            cells += [str(row[f"{kind}_batch"]), row.get(f"{kind}_error", "-"), "-", "-"]
    cells.append(f"{row.get('inference_kernels', '-')} / {row.get('train_kernels', '-')}")
    return "| " + " | ".join(cells) + " |"


TABLE_HEADER = (
    "| model | attention | compiled | min cosine to fp32 eager | inference batch | inference videos/s | inference MFU "
    "| inference peak GiB | train batch | train videos/s | train MFU | train peak GiB "
    "| attention kernels (inference / train) |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def measure(row: dict, kind: str, measurement: Callable[[], dict], device: torch.device) -> None:
    """Adds a measurement to `row`; running out of GPU memory or a backend's failure is recorded in the row, not
    raised, so the other rows still run."""
    try:
        row.update(measurement())
    except torch.cuda.OutOfMemoryError:
        row[f"{kind}_error"] = "out of memory"
    except Exception as error:  # a backend that fails on this GPU: say so in the table and go on
        row[f"{kind}_error"] = f"{type(error).__name__}: {str(error).splitlines()[0][:80]}"
    if device.type == "cuda":
        torch.cuda.empty_cache()


def check_preset(name: str, config: ViCLIPConfig, backends: list[str], compile_modes: list[bool], args, device, peak):
    """Measures every row of one size, printing each as soon as it is measured; returns the rows."""
    recipe = recipe_of(name, args.tiny)
    train_batch = args.train_batch_size or recipe["per_device_train_batch_size"]
    inference_batch = args.inference_batch_size
    model = build_model(config, device)
    videos, captions = random_inputs(config, args.num_check_videos, device)
    model.set_attn_implementation("eager")
    reference = embeddings(model, videos, captions)  # fp32 weights, eager attention
    model = model.to(torch.bfloat16)
    rows = []
    for attention in backends:
        try:
            model.set_attn_implementation(attention)
            cosine = torch.nn.functional.cosine_similarity(embeddings(model, videos, captions), reference).min().item()
        except Exception as error:
            print(f"  {name} {attention}: unavailable ({type(error).__name__}: {error})", file=sys.stderr, flush=True)
            continue
        if attention == "eager" and not args.tiny:  # parity only: its attention maps are too large to time
            row = {"model": name, "attention": attention, "compiled": "-", "min_cosine": cosine}
            row.update(inference_batch="-", train_batch="-", inference_error="not timed", train_error="not timed")
            rows.append(row)
            print(format_row(row, args.threshold), flush=True)
            continue
        for compiled in compile_modes:
            if args.deadline and time.monotonic() > args.deadline:
                print(f"  --time_budget reached: {name} {attention} left out", file=sys.stderr, flush=True)
                return rows
            row = {
                "model": name,
                "attention": attention,
                "compiled": "yes" if compiled else "no",
                "min_cosine": cosine,
                "inference_batch": inference_batch,
                "train_batch": train_batch,
            }
            breaks_before = graph_breaks()
            measure(
                row,
                "inference",
                lambda compiled=compiled: inference_row(model, config, inference_batch, compiled, args, device, peak),
                device,
            )
            measure(
                row,
                "train",
                lambda a=attention, c=compiled: training_row(config, a, recipe, train_batch, c, args, device, peak),
                device,
            )
            if compiled:
                row["compiled"] = f"yes ({graph_breaks() - breaks_before} graph breaks)"
            rows.append(row)
            print(format_row(row, args.threshold), flush=True)
    return rows


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False
    )
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
        "--attention",
        nargs="+",
        help="attention implementations to check (default: eager, sdpa and every flash-attention implementation "
        "whose package imports and runs on this GPU); eager is checked for parity only, its attention maps being "
        "too large to time at the recipe batches",
    )
    parser.add_argument(
        "--compile",
        choices=["off", "on", "both"],
        default="both",
        help="time each row without torch.compile, with it, or both (default: both)",
    )
    parser.add_argument(
        "--train_batch_size",
        type=int,
        help="videos per training step (default: the size's recipe, 512 for B/16 and L/14; 4 with --tiny)",
    )
    parser.add_argument(
        "--inference_batch_size", type=int, default=256, help="videos per inference batch (default: 256)"
    )
    parser.add_argument(
        "--num_check_videos",
        type=int,
        default=8,
        help="videos (and as many captions) compared between bf16 and fp32 eager",
    )
    parser.add_argument("--repeats", type=int, default=5, help="timed batches per measurement, after warm-up")
    parser.add_argument(
        "--threshold", type=float, default=0.999, help="minimum cosine similarity of bf16 to fp32 eager embeddings"
    )
    parser.add_argument(
        "--peak_tflops",
        type=float,
        help="dense bf16 peak of the device for the MFU, TFLOP/s (default: the data sheet by GPU name, else measured)",
    )
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="print the N CUDA kernels that take the most time in one training step of the first size, eager and "
        "(with --compile on/both) compiled (default: 0, no profile)",
    )
    parser.add_argument(
        "--time_budget",
        type=float,
        default=0,
        help="seconds after which no new row is started; the rows measured so far are kept (default: 0, no limit)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    args.deadline = time.monotonic() + args.time_budget if args.time_budget else None
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        sys.exit("gpu_check.py needs a CUDA device (or `--tiny --device cpu` for a smoke run of the script).")
    if args.tiny:
        args.inference_batch_size = min(args.inference_batch_size, 4)
    configs = (
        {"tiny": ViCLIPConfig(**TINY_CONFIG)}
        if args.tiny
        else {name: ViCLIPConfig.from_preset(name) for name in args.presets}
    )
    backends = args.attention or available_attention(device)
    compile_modes = {"off": [False], "on": [True], "both": [False, True]}[args.compile]
    peak, peak_source = peak_tflops(device, args.peak_tflops)
    device_name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(
        f"\n{device_name}, torch {torch.__version__}, peak {peak:.3g} TFLOP/s ({peak_source}); parity and "
        f"inference with bf16 weights, training at each size's recipe (mask ratio, frozen text, activation "
        f"checkpointing) with fp32 weights under bf16 autocast and fused AdamW; median of {args.repeats}\n"
    )
    print(TABLE_HEADER, flush=True)

    rows = []
    for name, config in configs.items():
        rows += check_preset(name, config, backends, compile_modes, args, device, peak)

    if args.profile:
        name, config = next(iter(configs.items()))
        recipe = recipe_of(name, args.tiny)
        batch = args.train_batch_size or recipe["per_device_train_batch_size"]
        for compiled in compile_modes:
            print_profile(config, recipe, batch, compiled, device, args.profile)

    missing = [impl for impl in FLASH_IMPLEMENTATIONS if impl not in backends]
    if device.type == "cuda" and missing and not args.attention:
        print(f"\nLeft out (package missing or GPU too old): {', '.join(missing)}.")
    failed = [f"{row['model']} {row['attention']}" for row in rows if row["min_cosine"] < args.threshold]
    if failed:
        print(f"\nParity failed (cosine < {args.threshold}): {', '.join(sorted(set(failed)))}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
