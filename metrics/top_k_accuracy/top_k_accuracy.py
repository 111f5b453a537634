# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""Top-k accuracy, in percent, from per-class scores: an `evaluate` metric module that loads offline.

Load it by the absolute path of its folder, which `evaluate` reads locally without reaching the Hub:

    metric = evaluate.load("/path/to/metrics/top_k_accuracy", keep_in_memory=True)

(A *relative* path such as `metrics/top_k_accuracy` is looked up on the Hub when it does not exist from the current
directory, so scripts build the absolute path from their own location.)
"""

import datasets
import evaluate
import numpy as np


_DESCRIPTION = """
Top-k accuracy: the share of samples whose true class is among the k highest-scoring classes, in percent (0-100),
for several k at once (top-1 and top-5 by default, as video classification results are reported).

Ties count against the model: a sample is correct at k when fewer than k *other* classes score at least as high as
its true class. A model that gives every class the same score therefore gets 0 at every k below the number of
classes, instead of a score that depends on how a sort breaks ties. When k is at least the number of classes, every
sample is correct at k (100).
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `list` of `float`): one row of class scores (logits, probabilities or similarities; only
        their order matters) per sample, all rows of the same length (the number of classes).
    references (`list` of `int`): the true class id of each sample, in `[0, number of classes)`.
    k (`int` or `list` of `int`, defaults to `[1, 5]`): the k to report.

Returns:
    `dict[str, float]`: `top{k}` for each k, in percent, e.g. `{"top1": 75.0, "top5": 100.0}`.

Examples:
    >>> metric = evaluate.load("/path/to/metrics/top_k_accuracy", keep_in_memory=True)  # doctest: +SKIP
    >>> metric.compute(predictions=[[0.1, 0.7, 0.2], [0.5, 0.3, 0.2]], references=[1, 2], k=[1, 2])  # doctest: +SKIP
    {'top1': 50.0, 'top2': 50.0}
"""

_CITATION = ""


class TopKAccuracy(evaluate.Metric):
    """Top-k accuracy in percent; see the module docstring."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {
                    "predictions": datasets.Sequence(datasets.Value("float32")),
                    "references": datasets.Value("int64"),
                }
            ),
        )

    def _compute(self, predictions, references, k=(1, 5)) -> dict[str, float]:
        ks = [k] if isinstance(k, int) else list(k)
        if not ks or any(not isinstance(value, (int, np.integer)) or value < 1 for value in ks):
            raise ValueError(f"k must be a positive integer or a list of them, got {k!r}.")
        if len(predictions) == 0:
            raise ValueError("top_k_accuracy got no samples: predictions and references are empty.")
        lengths = {len(row) for row in predictions}
        if len(lengths) != 1:
            raise ValueError(
                f"Every row of predictions must hold one score per class; got rows of lengths {sorted(lengths)}."
            )
        scores = np.asarray(predictions, dtype=np.float64)
        labels = np.asarray(references, dtype=np.int64)
        num_classes = scores.shape[1]
        if num_classes == 0:
            raise ValueError("predictions hold no class scores (rows of length 0).")
        if labels.min() < 0 or labels.max() >= num_classes:
            raise ValueError(
                f"references must be class ids in [0, {num_classes}) (the length of a predictions row); got ids from "
                f"{labels.min()} to {labels.max()}."
            )
        true_scores = scores[np.arange(len(labels)), labels][:, None]
        # rank = how many other classes score at least as high as the true one (ties count against the model)
        ranks = (scores >= true_scores).sum(axis=1) - 1
        return {f"top{value}": float(100.0 * np.mean(ranks < value)) for value in ks}
