# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""
The class names of Kinetics-400, -600 and -700, for zero-shot classification by name (the paper's Table 1):
[`load_label_set`] gives a set's official names in their official order, [`match_labels`] /
[`canonicalize_labels`] map the labels of a user's `video,label` annotation file onto them, and
[`reference_prompt_text`] writes class names and templates as the reference's zero-shot evaluation feeds them to the
tokenizer.

Matching rule ([`label_match_key`]): a label matches an official name when both are equal after lower-casing, turning
`_` and `-` into spaces, deleting every other character that is not a letter, digit or space (quotes, apostrophes,
parentheses, commas, ...) and collapsing spaces. So `air_drumming`, `"Air Drumming"` and `air drumming` are the
class `air drumming`; `passing_American_football_(in_game)` and `passing american football in game` are
`passing American football (in game)`; `massaging_persons_head` is `massaging person's head`. No two names of a set
share a key. An integer label is a class index in the official order. Any other label is an error that lists the
unknown labels with the closest official names.
"""

import difflib
import functools
import re
from collections.abc import Sequence
from pathlib import Path

import datasets

from viclip.tokenization_viclip import normalize_training_caption


# The lists are public facts, copied verbatim, one class per line in the official (alphabetical) order:
# - kinetics400.txt: DeepMind's kinetics-i3d repository, data/label_map.txt (https://github.com/deepmind/kinetics-i3d,
#   commit 0667e88), the 400 classes of the official Kinetics-400 annotation CSVs (Kay et al., 2017,
#   arXiv:1705.06950).
# - kinetics600.txt: the same repository, data/label_map_600.txt: the 600 classes of Kinetics-600 (Carreira et al.,
#   2018, arXiv:1808.01340).
# - kinetics700.txt: the 700 classes of the official Kinetics-700 annotation CSVs (Carreira et al., 2019,
#   arXiv:1907.06987; Kinetics-700-2020 keeps the same names), as listed in open-mmlab/mmaction2,
#   tools/data/kinetics/label_map_k700.txt (commit 4d6c934), whose 400- and 600-class lists are identical to
#   DeepMind's.
# The names keep their published spelling, including the inconsistent capitals ("passing American football (not in
# game)" in Kinetics-400 and -700, "passing american football (not in game)" in Kinetics-600).
LABEL_SET_FILES: dict[str, str] = {
    "kinetics400": "kinetics400.txt",
    "kinetics600": "kinetics600.txt",
    "kinetics700": "kinetics700.txt",
}
LABEL_SET_DIR = Path(__file__).resolve().parent / "label_sets"
_ALIASES = {"k400": "kinetics400", "k600": "kinetics600", "k700": "kinetics700"}
_MATCH_SPACED = re.compile(r"[_\-]")
_MATCH_DROPPED = re.compile(r"[^0-9a-z ]")


def label_set_names() -> list[str]:
    """The label sets shipped with the package."""
    return list(LABEL_SET_FILES)


def resolve_label_set_name(name: str) -> str:
    """The canonical name of a label set, accepting spellings like `Kinetics-400`, `kinetics_400` or `k400`."""
    key = re.sub(r"[^0-9a-z]", "", str(name).lower())
    key = _ALIASES.get(key, key)
    if key not in LABEL_SET_FILES:
        raise ValueError(f"Unknown label set {name!r}; the shipped ones are {label_set_names()}.")
    return key


def label_set_path(name: str) -> Path:
    """The file of a label set: one class name per line, in the official order (usable as `--label_names_file`)."""
    return LABEL_SET_DIR / LABEL_SET_FILES[resolve_label_set_name(name)]


@functools.cache
def _read_label_set(name: str) -> tuple[str, ...]:
    path = label_set_path(name)
    names = tuple(line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    expected = int(re.sub(r"\D", "", name))
    if len(names) != expected or len(set(names)) != expected:
        raise RuntimeError(f"{path} should list {expected} distinct classes, found {len(set(names))}: reinstall.")
    return names


def load_label_set(name: str) -> list[str]:
    """
    The class names of a label set (`kinetics400`, `kinetics600`, `kinetics700`, or spellings such as `k400`,
    `Kinetics-700`), in the official order.
    """
    return list(_read_label_set(resolve_label_set_name(name)))


def label_match_key(label: str) -> str:
    """The form under which a label is matched to an official class name (see the module docstring)."""
    text = _MATCH_SPACED.sub(" ", str(label).lower())
    return " ".join(_MATCH_DROPPED.sub("", text).split())


def _keys(class_names: Sequence[str]) -> dict[str, int]:
    keys: dict[str, int] = {}
    for index, name in enumerate(class_names):
        key = label_match_key(name)
        if key in keys:
            raise ValueError(
                f"The class names {class_names[keys[key]]!r} and {name!r} cannot be told apart by the matching rule."
            )
        keys[key] = index
    return keys


def match_labels(
    labels: Sequence[str | int], class_names: Sequence[str], source: str = "the annotations", set_name: str = ""
) -> list[int]:
    """
    The class index of each label: text labels by the matching rule ([`label_match_key`]), integers as indices.

    Args:
        labels: the annotation file's labels, one per video.
        class_names: the official names (e.g. [`load_label_set`]`("kinetics400")`).
        source (`str`): the file or dataset the labels come from, for the error message.
        set_name (`str`): the label set's name, for the error message.

    Raises:
        `ValueError`: naming `source`, the unknown labels (up to 20, with the closest official names) and the rule.
    """
    keys = _keys(class_names)
    indices, unknown = [], {}
    for label in labels:
        if isinstance(label, bool) or label is None:
            index = None
        elif isinstance(label, int):
            index = label if 0 <= label < len(class_names) else None
        else:
            index = keys.get(label_match_key(label))
        if index is None:
            unknown[label] = difflib.get_close_matches(label_match_key(label), list(keys), n=1)
        indices.append(index)
    if unknown:
        described = "; ".join(
            f"{label!r}" + (f" (closest: {class_names[keys[close[0]]]!r})" if close else "")
            for label, close in list(unknown.items())[:20]
        )
        what = f"{set_name} classes" if set_name else f"the {len(class_names)} classes"
        raise ValueError(
            f"{source} has {len(unknown)} label(s) that are not {what}: {described}"
            f"{' ...' if len(unknown) > 20 else ''}. Labels match the official names ignoring case, quotes, "
            "apostrophes, parentheses and other punctuation, with '_' and '-' read as spaces; integers are class "
            "indices in the official order."
        )
    return indices


def canonicalize_labels(
    annotations: datasets.Dataset, class_names: Sequence[str], source: str = "the annotations", set_name: str = ""
) -> datasets.Dataset:
    """
    `annotations` (a table from `load_annotations`, with a `label` column) with every label replaced by its official
    class name ([`match_labels`]), so that the evaluation's `label2id` over `class_names` finds each of them.
    """
    if "label" not in annotations.column_names:
        raise ValueError(f"{source} has no label column; its columns are {annotations.column_names}.")
    indices = match_labels(annotations["label"], class_names, source=source, set_name=set_name)
    names = [class_names[index] for index in indices]
    return annotations.remove_columns("label").add_column("label", names)


def reference_prompt_text(class_names: Sequence[str], templates: Sequence[str]) -> tuple[list[str], list[str]]:
    """
    Class names and prompt templates as the reference's zero-shot evaluation writes them: it normalises every
    prompt like a training caption (lower case; `, . ' ! ? " ( ) * # : ; ~` deleted; `-` and `/` turned into spaces)
    before tokenising. Normalising the names and the templates apart gives the same prompts,
    `normalize(template).format(normalize(name)) == normalize(template.format(name))`, and keeps the templates usable
    by any code that fills them, e.g. the zero-shot pipeline's `embed_labels(names, templates)`.
    """
    return [normalize_training_caption(name) for name in class_names], [
        normalize_training_caption(template) for template in templates
    ]


__all__ = [
    "LABEL_SET_DIR",
    "LABEL_SET_FILES",
    "canonicalize_labels",
    "label_match_key",
    "label_set_names",
    "label_set_path",
    "load_label_set",
    "match_labels",
    "reference_prompt_text",
    "resolve_label_set_name",
]
