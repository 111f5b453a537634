"""Benchmark of the ViCLIP video tower on the CPU: seconds per batch, achieved GFLOP/s against this machine's matmul
peaks measured in the same run, peak memory, and one masked pretraining step.

    python bench/bench_model.py                   # ViCLIP-B/16, batch 2 x 8 frames x 224^2
    python bench/bench_model.py --preset viclip-l14 --repeats 2
    python bench/bench_model.py --original_vision_file PATH/viclip_vision.py --original_site_packages DIR

Prints a Markdown table. Random weights: speed does not depend on the values. Each row runs in a fresh process
(max_tasks_per_child=1), so its peak RSS is its own; its matmul peak is measured right before it.

With `--original_vision_file`, a second table times the original encoder and ours in one process, their runs taking
turns: the ratio to trust on a shared machine, where the load can change between rows. A last table times the tower's
heavy kernels alone, on tensors of the tower's shapes: the four linear layers of a block, the attention kernel
(`scaled_dot_product_attention`), and the attention's two matmuls without the softmax. Their summed time is a ceiling
for the whole tower: no implementation built on these kernels beats it, whatever it does with the layer norms,
activations and residual adds in between.
`--compile` adds rows with the tower under `torch.compile` (needs a C++ compiler; compiling takes a minute or two).
"""

import argparse
import contextlib
import functools
import importlib.util
import multiprocessing
import resource
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

import torch
import torch.nn.functional as F

from viclip import ViCLIPConfig, ViCLIPModel


def attention_matmul_flops(config: ViCLIPConfig, num_frames: int, kept_ratio: float = 1.0) -> float:
    """FLOPs of one video's QK^T and PV products, every block."""
    vision = config.vision_config
    tokens = 1 + round((vision.image_size // vision.patch_size) ** 2 * num_frames * kept_ratio)
    return vision.num_hidden_layers * 4 * tokens * tokens * vision.hidden_size


def matmul_flops(config: ViCLIPConfig, num_frames: int, kept_ratio: float = 1.0) -> float:
    """Multiply-add FLOPs (x2) of one video through the vision tower and its projection."""
    vision = config.vision_config
    patches = (vision.image_size // vision.patch_size) ** 2
    tokens = 1 + round(patches * num_frames * kept_ratio)
    width, mlp = vision.hidden_size, vision.intermediate_size
    linear_params_per_layer = 4 * width * width + 2 * width * mlp  # qkv + out, fc1 + fc2
    linear = vision.num_hidden_layers * 2 * tokens * linear_params_per_layer
    patchify = 2 * patches * num_frames * vision.num_channels * vision.patch_size**2 * width
    return (
        linear + attention_matmul_flops(config, num_frames, kept_ratio) + patchify + 2 * width * config.projection_dim
    )


PRECISIONS = ("fp32", "bf16-autocast")


def measure_matmul_peak(dtype: torch.dtype, size: int = 2048, repeats: int = 8) -> float:
    """Best GFLOP/s of a square matmul in `dtype` on this machine, now."""
    a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def precision_context(precision: str) -> contextlib.AbstractContextManager:
    if precision == "bf16-autocast":
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def median_seconds(fn: Callable[[], object], repeats: int) -> float:
    """Median seconds of `fn` over `repeats` runs after one warm-up run."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def build_original_encoder(args: argparse.Namespace, config: ViCLIPConfig) -> torch.nn.Module:
    """
    The original implementation's vision encoder (`VisionTransformer` from the file given with
    `--original_vision_file`, e.g. `Data/InternVid/viclip/viclip_vision.py` of OpenGVLab/InternVideo; it needs `timm`
    and `einops` importable, e.g. through `--original_site_packages`), at `config`'s size, random weights. It takes
    videos as `[batch, 3, frames, height, width]`.
    """
    if args.original_site_packages:
        sys.path.insert(0, args.original_site_packages)
    spec = importlib.util.spec_from_file_location("original_viclip_vision", args.original_vision_file)
    original = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = original  # timm's model registry looks the module up
    spec.loader.exec_module(original)
    vision = config.vision_config
    torch.manual_seed(0)
    model = original.VisionTransformer(
        input_resolution=vision.image_size,
        patch_size=vision.patch_size,
        width=vision.hidden_size,
        layers=vision.num_hidden_layers,
        heads=vision.num_attention_heads,
        output_dim=config.projection_dim,
        num_frames=vision.num_frames,
    ).eval()
    torch.nn.init.normal_(model.proj, std=vision.hidden_size**-0.5)  # created uninitialised
    return model


def run_original_case(args: argparse.Namespace, config: ViCLIPConfig, precision: str) -> dict[str, float]:
    """Times the original implementation's vision encoder on the same batch as the embedding rows."""
    model = build_original_encoder(args, config)
    vision = config.vision_config
    videos = torch.randn(args.batch_size, 3, vision.num_frames, vision.image_size, vision.image_size)

    def work() -> None:
        with torch.inference_mode(), precision_context(precision):
            model(videos)

    peak = measure_matmul_peak(torch.bfloat16 if precision == "bf16-autocast" else torch.float32)
    seconds = median_seconds(work, args.repeats)
    flops = args.batch_size * matmul_flops(config, vision.num_frames)
    return {
        "seconds": seconds,
        "gflops": flops / seconds / 1e9,
        "peak": peak,
        "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def side_by_side_seconds(args: argparse.Namespace, precision: str) -> dict[str, float]:
    """
    Median seconds per batch of the original encoder and of ours (sdpa) in one process, their timed runs taking turns,
    so that a change in the machine's load slows both alike: the ratio to trust on a shared machine.
    """
    if args.threads:
        torch.set_num_threads(args.threads)
    config = ViCLIPConfig.from_preset(args.preset)
    original = build_original_encoder(args, config)
    torch.manual_seed(0)
    ours = ViCLIPModel(config).eval()
    ours.set_attn_implementation("sdpa")
    videos = torch.randn(args.batch_size, config.num_frames, 3, config.image_size, config.image_size)
    original_videos = videos.transpose(1, 2).contiguous()  # the original takes [batch, 3, frames, height, width]
    runs = {
        "original": lambda: original(original_videos),
        "ours": lambda: ours.get_video_features(pixel_values=videos),
    }
    times: dict[str, list[float]] = {name: [] for name in runs}
    with torch.inference_mode():
        for _ in range(args.repeats + 1):  # the first round warms up
            for name, run in runs.items():
                with precision_context(precision):
                    start = time.perf_counter()
                    run()
                    times[name].append(time.perf_counter() - start)
    return {name: sorted(values[1:])[len(values[1:]) // 2] for name, values in times.items()}


def kernel_seconds(args: argparse.Namespace, precision: str) -> dict[str, float]:
    """
    Seconds per batch of the tower's heavy kernels alone, in `precision`'s compute dtype: every block's linear layers
    (qkv, out, fc1, fc2), every block's attention kernel, and every block's attention matmuls (QK^T and PV) without
    the softmax. Also the matmul peak, measured right before.
    """
    if args.threads:
        torch.set_num_threads(args.threads)
    vision = ViCLIPConfig.from_preset(args.preset).vision_config
    dtype = torch.bfloat16 if precision == "bf16-autocast" else torch.float32
    tokens = 1 + vision.num_frames * (vision.image_size // vision.patch_size) ** 2
    rows = args.batch_size * tokens  # the linear layers see every token of every video as one row
    width, heads, mlp = vision.hidden_size, vision.num_attention_heads, vision.intermediate_size
    peak = measure_matmul_peak(dtype)
    linear_seconds = 0.0
    for in_features, out_features in ((width, 3 * width), (width, width), (width, mlp), (mlp, width)):
        inputs = torch.randn(rows, in_features, dtype=dtype)
        weight, bias = torch.randn(out_features, in_features, dtype=dtype), torch.randn(out_features, dtype=dtype)
        linear_seconds += median_seconds(functools.partial(F.linear, inputs, weight, bias), args.repeats + 2)
    queries, keys, values = torch.randn(3, args.batch_size, heads, tokens, width // heads, dtype=dtype).unbind(0)
    attention_seconds = median_seconds(lambda: F.scaled_dot_product_attention(queries, keys, values), args.repeats + 2)
    matmul_seconds = median_seconds(lambda: (queries @ keys.transpose(-1, -2)) @ values, args.repeats + 2)
    layers = vision.num_hidden_layers
    return {
        "linear": layers * linear_seconds,
        "attention": layers * attention_seconds,
        "attention matmuls": layers * matmul_seconds,
        "peak": peak,
    }


def run_case(args: argparse.Namespace, kind: str, implementation: str, precision: str) -> dict[str, float]:
    """
    Times one table row in a fresh process, so that its peak memory is its own; the matmul peak of the row's
    precision is measured right before it, under the same machine load.
    """
    if args.threads:
        torch.set_num_threads(args.threads)
    config = ViCLIPConfig.from_preset(args.preset)
    if kind == "original":
        return run_original_case(args, config, precision)
    torch.manual_seed(0)
    model = ViCLIPModel(config)
    model.set_attn_implementation(implementation)
    frames = (config.num_frames, 3, config.image_size, config.image_size)
    if kind in ("embed", "embed-compiled"):
        model.eval()
        videos = torch.randn(args.batch_size, *frames)
        flops = args.batch_size * matmul_flops(config, config.num_frames)

        embed = model.get_video_features
        if kind == "embed-compiled":
            embed = torch.compile(embed)
            with torch.inference_mode(), precision_context(precision):
                embed(pixel_values=videos)  # compiles

        def work() -> None:
            with torch.inference_mode(), precision_context(precision):
                embed(pixel_values=videos)

        repeats = args.repeats
    else:
        model.train()
        model.text_model.requires_grad_(False)  # the reference recipe freezes the text tower
        videos = torch.randn(args.train_batch_size, *frames)
        input_ids = torch.zeros(args.train_batch_size, config.text_config.max_position_embeddings, dtype=torch.long)
        input_ids[:, 0], input_ids[:, 1], input_ids[:, 2] = 49406, torch.arange(args.train_batch_size) + 320, 49407
        num_tokens = config.num_frames * (config.image_size // config.vision_config.patch_size) ** 2
        kept_ratio = 1 - int(args.mask_ratio * num_tokens) / num_tokens
        flops = 3 * args.train_batch_size * matmul_flops(config, config.num_frames, kept_ratio)  # forward + backward

        def work() -> None:
            model.zero_grad(set_to_none=True)
            with precision_context(precision):
                outputs = model(input_ids=input_ids, pixel_values=videos, return_loss=True, mask_ratio=args.mask_ratio)
            outputs.loss.backward()

        repeats = max(1, args.repeats - 1)
    peak = measure_matmul_peak(torch.bfloat16 if precision == "bf16-autocast" else torch.float32)
    seconds = median_seconds(work, repeats)
    return {
        "seconds": seconds,
        "gflops": flops / seconds / 1e9,
        "peak": peak,
        "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False
    )
    parser.add_argument("--preset", default="viclip-b16", help="model size: viclip-b16 or viclip-l14")
    parser.add_argument("--batch_size", type=int, default=2, help="videos per embedding batch")
    parser.add_argument("--train_batch_size", type=int, default=8, help="clips in the pretraining step")
    parser.add_argument("--mask_ratio", type=float, default=0.9, help="token masking of the pretraining step")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per row (the median is shown)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument(
        "--compile", action="store_true", help="also time the video embeddings under torch.compile (sdpa)"
    )
    parser.add_argument(
        "--original_vision_file",
        default=None,
        help="viclip_vision.py of the original code (OpenGVLab/InternVideo, Data/InternVid/viclip/), to time it "
        "side by side in the same run; never shipped with this project",
    )
    parser.add_argument(
        "--original_site_packages", default=None, help="a folder holding timm and einops for the original code"
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    print(f"ViCLIP {args.preset}, CPU, {torch.get_num_threads()} threads, torch {torch.__version__}")
    config = ViCLIPConfig.from_preset(args.preset)
    print(f"{matmul_flops(config, config.num_frames) / 1e9:.0f} GFLOP per {config.num_frames}-frame video\n")
    header = ["what", "s / batch", "GFLOP/s", "matmul peak GFLOP/s", "of peak", "peak RSS MiB"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    cases = [("original", "", precision) for precision in PRECISIONS] if args.original_vision_file else []
    cases += [("embed", implementation, precision) for implementation in ("eager", "sdpa") for precision in PRECISIONS]
    if args.compile:
        cases += [("embed-compiled", "sdpa", precision) for precision in PRECISIONS]
    cases += [("train", "sdpa", precision) for precision in PRECISIONS]
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"), max_tasks_per_child=1) as pool:
        for kind, implementation, precision in cases:
            result = pool.submit(run_case, args, kind, implementation, precision).result()
            if kind == "original":
                what = f"original code's video encoder, batch {args.batch_size}, {precision}"
            elif kind == "embed":
                what = f"video embeddings, batch {args.batch_size}, {implementation}, {precision}"
            elif kind == "embed-compiled":
                what = f"video embeddings, batch {args.batch_size}, {implementation}, torch.compile, {precision}"
            else:
                what = f"pretraining step, mask {args.mask_ratio}, batch {args.train_batch_size}, "
                what += f"{implementation}, {precision}"
            row = [
                what,
                f"{result['seconds']:.2f}",
                f"{result['gflops']:.0f}",
                f"{result['peak']:.0f}",
                f"{100 * result['gflops'] / result['peak']:.0f}%",
                f"{result['rss_mib']:.0f}",
            ]
            print("| " + " | ".join(row) + " |", flush=True)

        if args.original_vision_file:
            print(
                f"\nSide by side in one process, runs taking turns, batch {args.batch_size}, median of {args.repeats}\n"
            )
            print("| precision | original s / batch | ours (sdpa) s / batch | ours / original |")
            print("|---|---|---|---|")
            for precision in PRECISIONS:
                seconds = pool.submit(side_by_side_seconds, args, precision).result()
                ratio = seconds["ours"] / seconds["original"]
                print(f"| {precision} | {seconds['original']:.2f} | {seconds['ours']:.2f} | {ratio:.3f} |", flush=True)

        print(f"\nThe heavy kernels alone, seconds per batch of {args.batch_size} videos (every block summed)\n")
        header = ["precision", "linear layers", "attention kernel", "attention matmuls, no softmax"]
        header += ["ceiling: linear + attention kernel", "ceiling: linear + attention matmuls"]
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        flops = args.batch_size * matmul_flops(config, config.num_frames)
        for precision in PRECISIONS:
            kernels = pool.submit(kernel_seconds, args, precision).result()
            attention_flops = args.batch_size * attention_matmul_flops(config, config.num_frames)

            def cell(seconds: float, work: float, peak: float = kernels["peak"]) -> str:
                return f"{seconds:.2f} s, {100 * work / seconds / 1e9 / peak:.0f}% of peak"

            linear, attention, matmuls = kernels["linear"], kernels["attention"], kernels["attention matmuls"]
            row = [precision, cell(linear, flops - attention_flops), cell(attention, attention_flops)]
            row += [cell(matmuls, attention_flops), cell(linear + attention, flops), cell(linear + matmuls, flops)]
            print("| " + " | ".join(row) + " |", flush=True)


if __name__ == "__main__":
    main()
