"""GPU check of ViCLIP-L/14 (random weights): bf16 with each attention backend against an fp32 eager reference —
cosine similarity of the video embeddings (must be at least 0.999) — and videos per second at batch 32.

    python bench/gpu_check.py                # needs CUDA; flash_attention_2 is included when flash-attn imports

Prints a Markdown table and exits with status 1 if a backend's cosine similarity falls below the threshold.
"""

import argparse
import importlib.util
import sys
import time

import torch

from viclip import ViCLIPConfig, ViCLIPModel


def embed(model: ViCLIPModel, videos: torch.Tensor, batch_size: int) -> torch.Tensor:
    with torch.inference_mode():
        return torch.cat(
            [
                model.get_video_features(pixel_values=videos[start : start + batch_size]).pooler_output.float()
                for start in range(0, len(videos), batch_size)
            ]
        )


def videos_per_second(model: ViCLIPModel, videos: torch.Tensor, repeats: int) -> float:
    embed(model, videos, len(videos))  # warm-up
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        embed(model, videos, len(videos))
    torch.cuda.synchronize()
    return repeats * len(videos) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="viclip-l14", help="model size")
    parser.add_argument("--batch_size", type=int, default=32, help="videos per batch for the throughput")
    parser.add_argument("--num_check_videos", type=int, default=8, help="videos compared against fp32 eager")
    parser.add_argument("--repeats", type=int, default=5, help="timed batches per backend")
    parser.add_argument("--threshold", type=float, default=0.999, help="minimum cosine similarity to fp32 eager")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        sys.exit("gpu_check.py needs a CUDA device.")

    config = ViCLIPConfig.from_preset(args.preset)
    torch.manual_seed(0)
    model = ViCLIPModel(config).cuda().eval()
    with torch.no_grad():  # a non-zero temporal table, as trained checkpoints have
        model.vision_model.embeddings.temporal_embedding.normal_(std=0.02)
    frames = (config.num_frames, 3, config.image_size, config.image_size)
    check_videos = torch.randn(args.num_check_videos, *frames, device="cuda")
    timing_videos = torch.randn(args.batch_size, *frames, device="cuda", dtype=torch.bfloat16)

    model.set_attn_implementation("eager")
    reference = embed(model, check_videos, 4)
    backends = ["eager", "sdpa"] + (["flash_attention_2"] if importlib.util.find_spec("flash_attn") else [])
    model = model.to(torch.bfloat16)
    print(f"{args.preset}, {torch.cuda.get_device_name()}, bf16 weights, torch {torch.__version__}\n")
    print("| attention | min cosine to fp32 eager | videos / s (batch {}) |".format(args.batch_size))
    print("|---|---|---|")
    failed = False
    for backend in backends:
        model.set_attn_implementation(backend)
        embeds = embed(model, check_videos.to(torch.bfloat16), 4)
        cosine = torch.nn.functional.cosine_similarity(embeds, reference).min().item()
        speed = videos_per_second(model, timing_videos, args.repeats)
        failed |= cosine < args.threshold
        print(f"| {backend} | {cosine:.5f} | {speed:.1f} |", flush=True)
    if failed:
        sys.exit(f"a backend fell below cosine {args.threshold}")


if __name__ == "__main__":
    main()
