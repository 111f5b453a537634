# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""
Searching a moment index with text.

[`MomentIndex`] loads an index (a `datasets.Dataset` of windows, [`load_window_table`]) and finds the windows nearest
to query embeddings: with a FAISS inner-product index (`pip install faiss-cpu`, through `datasets`' `add_faiss_index`)
when FAISS is installed, by exact search in chunks otherwise; both return the same moments on a flat index.
[`search_moments`] does it from text in one call, embedding the queries with the model recorded in the index
([`TextEmbedder`], [`load_viclip`]).
"""

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import datasets
import numpy as np
import torch
import torch.nn.functional as F

from viclip.pipeline_viclip import embed_texts

from .index import WINDOW_COLUMNS, load_window_table, read_index_config, window_features
from .windows import TIME_TOLERANCE


# With `merge_overlapping=True` the merge looks at this many times `top_k` best windows.
MERGE_CANDIDATES_PER_MOMENT = 10
# Exact search scores the index in chunks of this many windows.
_EXACT_SEARCH_CHUNK = 65536


class TextEmbedder:
    """
    Embeds queries with a [`ViCLIPModel`] and its [`ViCLIPProcessor`]: a list of texts -> L2-normalised `float32`
    embeddings `[len(texts), projection_dim]` on the CPU ([`~viclip.pipeline_viclip.embed_texts`]: captions cleaned,
    tokenized and cut to the 32-token context as the reference does).
    """

    def __init__(self, model: torch.nn.Module, processor: Any):
        if not hasattr(model, "get_text_features"):
            raise TypeError(f"{type(model).__name__} has no get_text_features; load a ViCLIPModel (AutoModel).")
        self.model = model.eval()
        self.processor = processor

    @torch.inference_mode()
    def __call__(self, texts: Sequence[str]) -> torch.Tensor:
        return embed_texts(self.model, self.processor, list(texts)).cpu()


def load_viclip(
    model_name_or_path: str, device: str | torch.device | None = None, dtype: torch.dtype | str = torch.float32
) -> tuple[torch.nn.Module, Any]:
    """
    Loads a ViCLIP folder or Hub id with `AutoModel` and `AutoProcessor`, in evaluation mode on `device` (CUDA when
    available by default) in `dtype`.
    """
    from transformers import AutoModel, AutoProcessor

    import viclip  # noqa: F401  (registers the ViCLIP classes with the Auto classes)

    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    model = AutoModel.from_pretrained(model_name_or_path, dtype=dtype).to(device).eval()
    if not hasattr(model, "get_video_features") or not hasattr(model, "get_text_features"):
        raise ValueError(
            f"{model_name_or_path} holds a {type(model).__name__}, not a ViCLIPModel with both towers; moment search "
            "needs the video and the text tower."
        )
    return model, AutoProcessor.from_pretrained(model_name_or_path)


@dataclass(frozen=True)
class Moment:
    """A search result: a time span of a video and its score."""

    video: str
    """The video's path relative to the indexed folder."""
    start: float
    """Seconds."""
    end: float
    """Seconds."""
    score: float
    """Cosine similarity between the query and the window (for a merged moment, its best window)."""


def faiss_is_available() -> bool:
    """Whether FAISS can be imported (`pip install faiss-cpu`, or `pip install -e ".[search]"`)."""
    try:
        import faiss  # noqa: F401
    except ImportError:
        return False
    return True


def merge_overlapping_moments(moments: Sequence[Moment]) -> list[Moment]:
    """
    Groups the moments of each video around their best windows. The best moment not yet grouped takes every other
    ungrouped moment of the same video that overlaps it (shares more than an instant); together they become one
    moment spanning their union, scored by that best window. Then the next best ungrouped moment does the same, and
    so on. A merged moment therefore reaches at most one window beyond each side of its best window: a window that
    overlaps only a joined neighbour is not pulled in, so a run of overlapping windows (every window of a sliding
    index overlaps the next) never chains into one moment spanning the whole video. Moments that only touch stay
    apart; two merged moments may overlap where a window lay between their best windows. Returns the moments by
    decreasing score (ties: by video, then start).
    """
    remaining = sorted(moments, key=lambda moment: (-moment.score, moment.video, moment.start))
    merged = []
    while remaining:
        best = remaining[0]
        joined = [
            moment
            for moment in remaining
            if moment.video == best.video
            and moment.start < best.end - TIME_TOLERANCE
            and best.start < moment.end - TIME_TOLERANCE
        ]
        start, end = min(moment.start for moment in joined), max(moment.end for moment in joined)
        merged.append(Moment(best.video, start, end, best.score))
        taken = {id(moment) for moment in joined}
        remaining = [moment for moment in remaining[1:] if id(moment) not in taken]
    return merged


class MomentIndex:
    """
    The windows of a moment index and nearest-neighbour search over them by inner product (cosine similarity, the
    embeddings being normalised).

    With FAISS (`use_faiss=True`, or `None` and FAISS installed) the windows get a FAISS index through `datasets`'
    `add_faiss_index`: a flat (exact) inner-product index, unless `faiss_string_factory` asks for an approximate one
    for millions of windows, e.g. `"IVF1024,Flat"` (trained on the windows; it may return fewer than `top_k`
    moments). Otherwise the search is exact, scoring the memory-mapped embeddings in chunks. With the flat index both
    give the same moments (up to float rounding of the scores).

    Args:
        windows (`datasets.Dataset`): the window table (columns `video`, `start`, `end`, `embedding`), e.g. from
            [`load_window_table`].
        use_faiss (`bool`, *optional*): `True` to require FAISS, `False` for exact search, `None` for FAISS if it is
            installed.
        faiss_string_factory (`str`, *optional*): FAISS index factory string; flat by default.
        config (`dict`, *optional*): the index's settings (`index_config.json`), kept as `self.config`.
    """

    def __init__(
        self,
        windows: datasets.Dataset,
        use_faiss: bool | None = None,
        faiss_string_factory: str | None = None,
        config: dict[str, Any] | None = None,
    ):
        missing = [name for name in WINDOW_COLUMNS if name not in windows.column_names]
        if missing:
            raise ValueError(f"The window table lacks the columns {missing}; it needs {list(WINDOW_COLUMNS)}.")
        if len(windows) == 0:
            raise ValueError("The window table is empty: there is nothing to search.")
        if use_faiss and not faiss_is_available():
            raise ImportError("use_faiss=True needs FAISS: `pip install faiss-cpu` (or `pip install -e '.[search]'`).")
        windows = windows.select_columns(list(WINDOW_COLUMNS))  # a new Dataset: the caller's gets no FAISS index
        self.embedding_dim = len(windows[0]["embedding"])
        embedding_feature = window_features(self.embedding_dim)["embedding"]
        if windows.features["embedding"] != embedding_feature:  # e.g. float64 lists of a hand-made table
            windows = windows.cast_column("embedding", embedding_feature)
        self.windows = windows
        self.config = dict(config or {})
        self.uses_faiss = faiss_is_available() if use_faiss is None else bool(use_faiss)
        if self.uses_faiss:
            import faiss

            bars_were_enabled = datasets.is_progress_bar_enabled()
            datasets.disable_progress_bars()  # adding the vectors takes no time worth a bar
            try:
                windows.add_faiss_index(
                    column="embedding",
                    string_factory=faiss_string_factory,
                    metric_type=faiss.METRIC_INNER_PRODUCT,
                    # an index that clusters (IVF, PQ) is trained on the windows themselves
                    train_size=len(windows) if faiss_string_factory is not None else None,
                )
            finally:
                if bars_were_enabled:
                    datasets.enable_progress_bars()
        elif faiss_string_factory is not None:
            raise ValueError("faiss_string_factory needs FAISS; exact search takes none.")

    @classmethod
    def load(
        cls, index_dir: str | os.PathLike, use_faiss: bool | None = None, faiss_string_factory: str | None = None
    ) -> "MomentIndex":
        """The index in `index_dir` (built by [`index_videos`]); see the class for the arguments."""
        return cls(load_window_table(index_dir), use_faiss, faiss_string_factory, config=read_index_config(index_dir))

    def __len__(self) -> int:
        return len(self.windows)

    def _nearest_windows(self, queries: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
        """Scores and window positions `[Q, count]` of the best windows per query, best first."""
        if self.uses_faiss:
            results = self.windows.search_batch("embedding", queries, k=count)
            return np.asarray(results.total_scores), np.asarray(results.total_indices)
        best_scores = np.full((len(queries), 0), -np.inf, dtype=np.float32)
        best_positions = np.zeros((len(queries), 0), dtype=np.int64)
        offset = 0
        table = self.windows.with_format("numpy", columns=["embedding"])
        for chunk in table.iter(batch_size=_EXACT_SEARCH_CHUNK):
            embeddings = chunk["embedding"]
            scores = np.concatenate([best_scores, queries @ embeddings.T], axis=1)
            positions = np.concatenate(
                [
                    best_positions,
                    np.broadcast_to(np.arange(offset, offset + len(embeddings)), (len(queries), len(embeddings))),
                ],
                axis=1,
            )
            # best first; equal scores put the earlier window first
            order = np.lexsort((positions, -scores), axis=-1)[:, :count]
            best_scores = np.take_along_axis(scores, order, axis=1)
            best_positions = np.take_along_axis(positions, order, axis=1)
            offset += len(embeddings)
        return best_scores, best_positions

    def search(
        self, query_embeds: torch.Tensor | np.ndarray, top_k: int = 5, merge_overlapping: bool = False
    ) -> list[list[Moment]]:
        """
        The `top_k` moments nearest to each query embedding.

        Args:
            query_embeds (`torch.Tensor` or `np.ndarray` of shape `[num_queries, dim]`): normalised here.
            top_k (`int`, defaults to 5): moments per query (fewer when the index holds fewer windows).
            merge_overlapping (`bool`, defaults to `False`): among the `MERGE_CANDIDATES_PER_MOMENT * top_k` best
                windows, group each best window with the windows of its video that overlap it into one moment
                ([`merge_overlapping_moments`]: no chains) before keeping the `top_k` best; otherwise every moment is
                one window.

        Returns:
            `list[list[Moment]]`: per query, the moments by decreasing score.
        """
        if top_k < 1:
            raise ValueError(f"top_k must be at least 1, got {top_k}.")
        queries = torch.as_tensor(query_embeds).detach().float().cpu()
        if queries.ndim != 2 or queries.shape[1] != self.embedding_dim:
            raise ValueError(
                f"Query embeddings must be [num_queries, {self.embedding_dim}] for this index, got "
                f"{tuple(queries.shape)}; embed the queries with the model that built the index "
                f"({self.config.get('model', 'see index_config.json')})."
            )
        queries = F.normalize(queries, dim=-1).numpy()
        count = min(len(self), top_k * MERGE_CANDIDATES_PER_MOMENT if merge_overlapping else top_k)
        scores, positions = self._nearest_windows(queries, count)
        results = []
        spans = self.windows.select_columns(["video", "start", "end"])
        for query_scores, query_positions in zip(scores, positions, strict=True):
            found = query_positions >= 0  # an approximate FAISS index may return fewer than asked, padded with -1
            query_scores, query_positions = query_scores[found], query_positions[found]
            rows = spans[query_positions.tolist()]
            moments = [
                Moment(video, float(start), float(end), float(score))
                for video, start, end, score in zip(
                    rows["video"], rows["start"], rows["end"], query_scores, strict=True
                )
            ]
            if merge_overlapping:
                moments = merge_overlapping_moments(moments)
            results.append(moments[:top_k])
        return results


def search_moments(
    index: str | os.PathLike | MomentIndex,
    queries: str | Sequence[str],
    *,
    embed_texts: Callable[[list[str]], torch.Tensor] | None = None,
    model: torch.nn.Module | None = None,
    processor: Any = None,
    top_k: int = 5,
    merge_overlapping: bool = False,
    use_faiss: bool | None = None,
) -> list[Moment] | list[list[Moment]]:
    """
    Finds the moments of the indexed videos that best match text queries.

    ```python
    >>> from viclip_train.moments.search import search_moments
    >>> search_moments("outputs/moment-index", "a red square moving to the left", top_k=3)  # doctest: +SKIP
    [Moment(video='long_00.mp4', start=12.0, end=14.0, score=0.41), ...]
    ```

    Args:
        index (`str`, `os.PathLike` or [`MomentIndex`]): an index folder built by [`index_videos`], or a loaded index
            (load it once to run many queries).
        queries (`str` or list of `str`): the text queries.
        embed_texts (`Callable`, *optional*): `list[str] -> [len, dim]` query embeddings. By default a
            [`TextEmbedder`] of `model` and `processor`, or, when those are not given either, of the model recorded
            in the index (`index_config.json`), loaded with [`load_viclip`].
        model ([`ViCLIPModel`], *optional*), processor ([`ViCLIPProcessor`], *optional*): the model that built the
            index and its processor.
        top_k (`int`, defaults to 5), merge_overlapping (`bool`, defaults to `False`): see [`MomentIndex.search`].
        use_faiss (`bool`, *optional*): see [`MomentIndex`] (only when `index` is a folder).

    Returns:
        For one query (a `str`), its list of [`Moment`]s (`video`, `start`, `end`, `score`), best first; for a list
        of queries, one such list per query.
    """
    if not isinstance(index, MomentIndex):
        index = MomentIndex.load(index, use_faiss=use_faiss)
    single = isinstance(queries, str)
    texts = [queries] if single else list(queries)
    if not texts or not all(isinstance(text, str) and text.strip() for text in texts):
        raise ValueError(f"queries must be a non-empty text or a list of non-empty texts, got {queries!r}.")
    if embed_texts is None:
        if model is None or processor is None:
            if model is not None or processor is not None:
                raise ValueError("Pass both model and processor (or embed_texts), not one of them.")
            model_id = index.config.get("model")
            if not model_id:
                raise ValueError("The index records no model to embed queries with; pass model and processor.")
            model, processor = load_viclip(model_id)
        embed_texts = TextEmbedder(model, processor)
    results = index.search(embed_texts(texts), top_k=top_k, merge_overlapping=merge_overlapping)
    return results[0] if single else results


__all__ = [
    "MERGE_CANDIDATES_PER_MOMENT",
    "Moment",
    "MomentIndex",
    "TextEmbedder",
    "faiss_is_available",
    "load_viclip",
    "merge_overlapping_moments",
    "search_moments",
]
