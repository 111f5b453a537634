# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
r"""
Searches a moment index (built by `python -m viclip_train.moments.index_videos`) with text: prints the best moments
(video, start, end, score) of each query.

    python -m viclip_train.moments.search_moments --index_dir index/ --query "a dog catching a frisbee"
    python -m viclip_train.moments.search_moments --index_dir index/ --query "a red square moving up" "a blue circle" \
        --top_k 10 --merge_overlapping --output_format jsonl

Queries are embedded with the model recorded in the index (`--model_name_or_path` to name its folder when it moved).
The search uses a FAISS inner-product index when FAISS is installed (`pip install faiss-cpu`), exact search otherwise
(`--exact` forces it); both give the same moments. A score is the cosine similarity of the query and the window.

Output (`--output_format table`, the default): per query, a Markdown table with the columns rank, score, start, end
(seconds) and video (relative to the indexed folder). `--output_format jsonl`: one JSON object per moment,
`{"query": ..., "rank": 1, "video": ..., "start": ..., "end": ..., "score": ...}`.
"""

import json
import logging
from dataclasses import dataclass, field

from transformers import HfArgumentParser

from viclip_train.arguments import CommandHelpFormatter
from viclip_train.moments.search import Moment, MomentIndex, TextEmbedder, load_viclip, search_moments


OUTPUT_FORMATS = ("table", "jsonl")


@dataclass
class SearchArguments:
    """What to search, and how to show it."""

    index_dir: str = field(
        metadata={"help": "The index folder written by `python -m viclip_train.moments.index_videos`."}
    )
    query: list[str] = field(metadata={"help": "One or more text queries (quote each)."})
    top_k: int = field(default=5, metadata={"help": "Moments shown per query."})
    merge_overlapping: bool = field(
        default=False,
        metadata={
            "help": "Group windows into moments: the best window takes the other windows of its video that overlap "
            "it (one moment spanning their union, scored by the best window), then the next best window left, and "
            "so on; a window overlapping only a joined neighbour is not pulled in, so moments never chain along the "
            "video. Otherwise every moment is one window."
        },
    )
    model_name_or_path: str | None = field(
        default=None,
        metadata={"help": "The model that built the index; by default the one recorded in its index_config.json."},
    )
    device: str | None = field(default=None, metadata={"help": "Where the text tower runs; CUDA when available."})
    exact: bool = field(default=False, metadata={"help": "Exact search even when FAISS is installed."})
    faiss_index_factory: str | None = field(
        default=None,
        metadata={
            "help": "A FAISS index factory string for an approximate index over millions of windows, e.g. "
            "'IVF1024,Flat' (trained on the windows); a flat, exact FAISS index by default."
        },
    )
    output_format: str = field(
        default="table",
        metadata={
            "help": "table (Markdown, per query) or jsonl (one JSON object per moment).",
            "choices": OUTPUT_FORMATS,
        },
    )


def format_moments(query: str, moments: list[Moment], output_format: str = "table") -> str:
    """The moments of one query as printed by this command (see the module docstring)."""
    if output_format == "jsonl":
        return "\n".join(
            json.dumps(
                {"query": query, "rank": rank, "video": m.video, "start": m.start, "end": m.end, "score": m.score}
            )
            for rank, m in enumerate(moments, start=1)
        )
    lines = [f"Query: {query}", "", "| rank | score | start | end | video |", "|---|---|---|---|---|"]
    lines += [
        f"| {rank} | {m.score:.4f} | {m.start:.2f} | {m.end:.2f} | {m.video} |" for rank, m in enumerate(moments, 1)
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = HfArgumentParser(
        SearchArguments, description=__doc__, formatter_class=CommandHelpFormatter, allow_abbrev=False
    )
    (args,) = parser.parse_args_into_dataclasses(args=argv)
    logging.basicConfig(format="%(asctime)s - %(levelname)s - %(name)s - %(message)s", level=logging.WARNING)
    if args.output_format not in OUTPUT_FORMATS:
        raise ValueError(f"--output_format must be one of {OUTPUT_FORMATS}, got {args.output_format!r}.")
    if args.exact and args.faiss_index_factory:
        raise ValueError("--exact and --faiss_index_factory exclude each other; pass one of them.")
    index = MomentIndex.load(
        args.index_dir, use_faiss=False if args.exact else None, faiss_string_factory=args.faiss_index_factory
    )
    model_id = args.model_name_or_path or index.config.get("model")
    model, processor = load_viclip(model_id, device=args.device)
    results = search_moments(
        index,
        args.query,
        embed_texts=TextEmbedder(model, processor),
        top_k=args.top_k,
        merge_overlapping=args.merge_overlapping,
    )
    for query, moments in zip(args.query, results, strict=True):
        print(format_moments(query, moments, args.output_format))


if __name__ == "__main__":
    main()
