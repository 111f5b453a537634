# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""
The public text-video retrieval benchmarks behind `run_retrieval.py`: reading their annotation files as people
download them, and finding their videos under a root folder ([`viclip_train.eval.embeddings`] embeds them).

Formats ([`BENCHMARK_FORMATS`]; [`detect_format`] recognises each from its content), with the standard test sets:

- `msrvtt_1k`: MSR-VTT 1k-A, `MSRVTT_JSFUSION_test.csv` (header `key,vid_key,video_id,sentence`): 1,000 videos,
  one caption each.
- `msrvtt_full`: MSR-VTT with every caption, `MSRVTT_data.json` (`videos` with their `split`, `sentences`): the
  2,990 test videos, 20 captions each.
- `msvd`: CLIP4Clip's `raw-captions.pkl` or the corpus's `AllVideoDescriptions.txt`, with the split's video ids
  (`test_list.txt`): 670 videos, about 40 captions each.
- `didemo`: DiDeMo's `test_data.json` (rows with `video`, `description`, `times`): about 1,000 videos, one paragraph
  each, read within their first 30 s.
- `activitynet`: ActivityNet Captions' `val_1.json` (`{video id: {"sentences": [...]}}`): 4,917 videos, one
  paragraph each.
- `lsmdc`: `LSMDC16_challenge_1000_publictect.csv` (tab-separated, the sentence last): 1,000 clips, one caption each.
- `json`: the CLIP4Clip / VINDLU / UMT JSON the InternVideo code reads, `[{"video": ..., "caption": text or
  [texts]}]` (or JSON Lines); `paragraph=True` for its DiDeMo and ActivityNet files. The benchmark is recognised
  from the video names ([`read_retrieval_json`]): `video<N>.mp4` with one caption each is MSR-VTT 1k-A
  (`msrvtt_test1k.json`), Flickr names with `paragraph=True` DiDeMo (read within its first 30 s, as `didemo`),
  `v_<YouTube id>` with `paragraph=True` ActivityNet Captions; anything else stays `json` ("custom").

Paragraph retrieval (DiDeMo, ActivityNet Captions, or `json` with `paragraph=True`) joins a video's captions with a
space, in file order, into one caption ([`join_paragraph`]), as the reference does.
"""

import csv
import json
import os
import pickle
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

from transformers.utils import logging

from ..data.annotations import VIDEO_EXTENSIONS, resolve_video_path


logger = logging.get_logger(__name__)

BENCHMARK_FORMATS: tuple[str, ...] = ("msrvtt_1k", "msrvtt_full", "msvd", "didemo", "activitynet", "lsmdc", "json")
"""The annotation formats [`load_benchmark`] reads."""

BENCHMARK_NAMES: dict[str, str] = {
    "msrvtt_1k": "MSR-VTT 1k-A",
    "msrvtt_full": "MSR-VTT full",
    "msvd": "MSVD",
    "didemo": "DiDeMo",
    "activitynet": "ActivityNet Captions",
    "lsmdc": "LSMDC",
    "json": "custom",
}
"""Display names of the formats (model cards and logs)."""

PUBLISHED_ZERO_SHOT_R1: dict[str, dict[str, tuple[float, float]]] = {
    "ViCLIP-L/14 InternVid-10M-FLT": {
        "msrvtt_1k": (42.4, 41.3),
        "lsmdc": (20.1, 16.9),
        "didemo": (18.4, 27.9),
        "msvd": (49.1, 75.1),
        "activitynet": (15.1, 24.0),
    },
    "ViCLIP-B/16 InternVid-10M-FLT": {"msrvtt_1k": (38.6, 38.5)},
}
"""Published zero-shot text-to-video / video-to-text R@1 (percent) of the released checkpoints (InternVid paper)."""

DIDEMO_ANNOTATED_SECONDS = 30.0
"""DiDeMo's moments were annotated on the first 30 s of each video (longer videos were cut for annotation); the
reference evaluates on videos trimmed to that length, so the `didemo` reader reads the window [0, 30) s."""

# Video names of the benchmarks whose CLIP4Clip / UMT JSON files [`read_retrieval_json`] recognises: MSR-VTT's
# `video0` ... `video9999`, DiDeMo's Flickr `<user>@N<nn>_<photo id>_<secret>`, ActivityNet's `v_<YouTube id>`.
_MSRVTT_VIDEO = re.compile(r"video\d{1,4}(\.mp4)?")
_DIDEMO_VIDEO = re.compile(r"\d+@N\d+_\d+_[0-9a-f]+(\.\w+)?")
_ACTIVITYNET_VIDEO = re.compile(r"v_[\w-]{11}(\.\w+)?")


@dataclass
class RetrievalBenchmark:
    """
    A text-video retrieval test set: its unique videos, its captions and the video of each caption.

    Attributes:
        format (`str`): one of [`BENCHMARK_FORMATS`].
        source (`str`): the annotation file.
        videos (`list[str]`): the videos as the annotations name them, each once, in file order.
        captions (`list[str]`): every caption (a paragraph for paragraph retrieval), as written in the file.
        text_to_video (`list[int]`): the index into `videos` of each caption.
        windows (`list`): per video, the `(start, end)` seconds to read, or `None` for the whole video.
        candidates (`list[list[str]]`): per video, the paths relative to the video root to try, in order (a path
            without a video extension is also tried with each of [`VIDEO_EXTENSIONS`]).
    """

    format: str
    source: str
    videos: list[str]
    captions: list[str]
    text_to_video: list[int]
    windows: list[tuple[float, float] | None] = field(default_factory=list)
    candidates: list[list[str]] = field(default_factory=list)

    def __post_init__(self):
        if not self.windows:
            self.windows = [None] * len(self.videos)
        if not self.candidates:
            self.candidates = [[video] for video in self.videos]
        if not self.videos or not self.captions:
            raise ValueError(f"{self.source} holds no video with a caption.")
        if len(self.captions) != len(self.text_to_video):
            raise ValueError("Every caption needs the index of its video.")
        if len(self.windows) != len(self.videos) or len(self.candidates) != len(self.videos):
            raise ValueError("`windows` and `candidates` need one entry per video.")
        captioned = set(self.text_to_video)
        if min(captioned) < 0 or max(captioned) >= len(self.videos):
            raise ValueError("`text_to_video` points outside the list of videos.")
        uncaptioned = [video for index, video in enumerate(self.videos) if index not in captioned]
        if uncaptioned:
            raise ValueError(f"{self.source}: videos without a caption: {uncaptioned[:5]}.")

    @property
    def name(self) -> str:
        """The display name of the benchmark format."""
        return BENCHMARK_NAMES[self.format]

    def select_videos(self, keep: Sequence[int]) -> "RetrievalBenchmark":
        """The benchmark restricted to the videos at indices `keep` (in that order) and their captions."""
        new_index = {old: new for new, old in enumerate(keep)}
        pairs = [
            (caption, new_index[video])
            for caption, video in zip(self.captions, self.text_to_video, strict=True)
            if video in new_index
        ]
        return replace(
            self,
            videos=[self.videos[i] for i in keep],
            captions=[caption for caption, _ in pairs],
            text_to_video=[video for _, video in pairs],
            windows=[self.windows[i] for i in keep],
            candidates=[self.candidates[i] for i in keep],
        )


def join_paragraph(sentences: Sequence[str]) -> str:
    """A video's captions as one paragraph, for paragraph retrieval: stripped and joined with a space, in order."""
    return " ".join(sentence.strip() for sentence in sentences if sentence.strip())


def _group_pairs(pairs: Sequence[tuple[str, str]], paragraph: bool = False) -> tuple[list[str], list[str], list[int]]:
    """`(videos, captions, text_to_video)` from `(video, caption)` pairs: videos in order of first appearance, the
    captions of a video kept in file order, or joined into one paragraph."""
    by_video: dict[str, list[str]] = {}
    for video, caption in pairs:
        by_video.setdefault(video, []).append(caption)
    videos = list(by_video)
    captions, text_to_video = [], []
    for index, video in enumerate(videos):
        texts = [join_paragraph(by_video[video])] if paragraph else by_video[video]
        captions.extend(texts)
        text_to_video.extend([index] * len(texts))
    return videos, captions, text_to_video


def _read_json(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON ({error}).") from None


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{where}: expected a non-empty caption string, got {value!r}.")
    return value


def read_msrvtt_1k(path: str | os.PathLike) -> RetrievalBenchmark:
    """MSR-VTT 1k-A (`MSRVTT_JSFUSION_test.csv`): one row, one video and its caption, columns `video_id` and
    `sentence` (also `key`, `vid_key`). Videos are `<video_root>/<video_id>.mp4`."""
    path = Path(path)
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [name for name in ("video_id", "sentence") if name not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(
                f"{path} has no column(s) {missing}; its columns are {reader.fieldnames}. MSR-VTT 1k-A files "
                "(MSRVTT_JSFUSION_test.csv) have the header key,vid_key,video_id,sentence."
            )
        pairs = []
        for line, row in enumerate(reader, start=2):
            video = (row["video_id"] or "").strip()
            if not video:
                raise ValueError(f"{path}, line {line}: empty video_id.")
            pairs.append((video, _text(row["sentence"], f"{path}, line {line}")))
    videos, captions, text_to_video = _group_pairs(pairs)
    return RetrievalBenchmark("msrvtt_1k", str(path), videos, captions, text_to_video)


def read_msrvtt_full(path: str | os.PathLike, split: str = "test") -> RetrievalBenchmark:
    """
    MSR-VTT with every caption (`MSRVTT_data.json`): the videos of `split` (`videos[i]["split"]`: `train`,
    `validate`, `test`) and all their `sentences` (20 per video). Videos are `<video_root>/<video_id>.mp4`.
    """
    path = Path(path)
    data = _read_json(path)
    if not isinstance(data, dict) or "videos" not in data or "sentences" not in data:
        raise ValueError(f"{path} is not MSRVTT_data.json: expected an object with 'videos' and 'sentences'.")
    splits = sorted({str(video.get("split")) for video in data["videos"]})
    videos = [str(video["video_id"]) for video in data["videos"] if video.get("split") == split]
    if not videos:
        raise ValueError(f"{path} has no video in split {split!r}; its splits are {splits}. Choose with --split.")
    index = {video: i for i, video in enumerate(videos)}
    captions, text_to_video = [], []
    for number, sentence in enumerate(data["sentences"]):
        if sentence.get("video_id") in index:
            captions.append(_text(sentence.get("caption"), f"{path}, sentences[{number}]"))
            text_to_video.append(index[sentence["video_id"]])
    return RetrievalBenchmark("msrvtt_full", str(path), videos, captions, text_to_video)


class _ContainersOnlyUnpickler(pickle.Unpickler):
    """Reads pickles made only of containers and strings (dicts, lists, tuples, `OrderedDict`, `defaultdict`): any
    other class or function is refused by name, so loading a file never runs code."""

    ALLOWED: ClassVar[set[tuple[str, str]]] = {
        ("builtins", "dict"),
        ("builtins", "list"),
        ("builtins", "tuple"),
        ("builtins", "str"),
        ("collections", "OrderedDict"),
        ("collections", "defaultdict"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(
            f"refusing to load {module}.{name}: a caption pickle holds only dicts, lists and strings"
        )


def _read_msvd_captions(path: Path) -> dict[str, list[str]]:
    if path.suffix.lower() in (".pkl", ".pickle"):
        try:
            with open(path, "rb") as handle:
                data = _ContainersOnlyUnpickler(handle).load()
        except pickle.UnpicklingError as error:
            raise ValueError(f"{path}: {error}.") from None
        if not isinstance(data, dict):
            raise ValueError(f"{path} must hold a dict {{video id: [caption, ...]}}, got {type(data).__name__}.")
        captions = {}
        for video, entries in data.items():
            if not isinstance(entries, (list, tuple)):
                raise ValueError(f"{path}, video {video!r}: expected a list of captions.")
            # CLIP4Clip's raw-captions.pkl stores each caption as its list of words
            captions[str(video)] = [
                _text(" ".join(entry) if isinstance(entry, (list, tuple)) else entry, f"{path}, video {video!r}")
                for entry in entries
            ]
        return captions
    captions: dict[str, list[str]] = {}
    with open(path, encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split(maxsplit=1)
            if len(parts) != 2:
                raise ValueError(f"{path}, line {line_number}: expected '<video id> <caption>', got {line!r}.")
            captions.setdefault(parts[0], []).append(parts[1])
    return captions


def read_video_id_list(path: str | os.PathLike) -> list[str]:
    """Video ids, one per line (blank lines ignored), e.g. CLIP4Clip's `test_list.txt`."""
    ids = [line.strip() for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    if not ids:
        raise ValueError(f"{path} lists no video id.")
    return ids


def read_msvd(path: str | os.PathLike, split_file: str | os.PathLike | None = None) -> RetrievalBenchmark:
    """
    MSVD: captions from CLIP4Clip's `raw-captions.pkl` (`{video id: [[word, ...], ...]}`, read without running any
    code) or the corpus's `AllVideoDescriptions.txt` (`<video id> <caption>` lines, `#` comments), for the videos
    listed in `split_file` (the 670 ids of `test_list.txt` for the standard test split), in that order. Without
    `split_file`, every video of the file. Videos are `<video_root>/<video id>.avi` (`YouTubeClips/`).
    """
    path = Path(path)
    by_video = _read_msvd_captions(path)
    if split_file is None:
        logger.warning(
            f"No split file given for {path}: evaluating all {len(by_video)} videos. The standard MSVD test split is "
            "the 670 videos of test_list.txt (--split_file)."
        )
        videos = list(by_video)
    else:
        videos = read_video_id_list(split_file)
        unknown = [video for video in videos if video not in by_video]
        if unknown:
            raise ValueError(
                f"{split_file} lists {len(unknown)} video(s) without captions in {path}, e.g. {unknown[:5]}."
            )
    pairs = [(video, caption) for video in dict.fromkeys(videos) for caption in by_video[video]]
    videos, captions, text_to_video = _group_pairs(pairs)
    return RetrievalBenchmark("msvd", str(path), videos, captions, text_to_video)


def read_didemo(path: str | os.PathLike) -> RetrievalBenchmark:
    """
    DiDeMo paragraph retrieval (`test_data.json`: rows with `video`, `description`, `times`): each video's descriptions
    joined into one paragraph, read within its first 30 s ([`DIDEMO_ANNOTATED_SECONDS`]). The video is
    `<video_root>/<video>` or, for a converted copy, the same name with another video extension.
    """
    path = Path(path)
    rows = _read_json(path)
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise ValueError(f"{path} is not DiDeMo's test_data.json: expected a list of objects.")
    pairs = []
    for number, row in enumerate(rows):
        if "video" not in row or "description" not in row:
            raise ValueError(f"{path}, entry {number}: expected 'video' and 'description', got {sorted(row)}.")
        pairs.append((str(row["video"]), _text(row["description"], f"{path}, entry {number}")))
    videos, captions, text_to_video = _group_pairs(pairs, paragraph=True)
    return _as_didemo(RetrievalBenchmark("didemo", str(path), videos, captions, text_to_video))


def _as_didemo(benchmark: RetrievalBenchmark) -> RetrievalBenchmark:
    """`benchmark` as DiDeMo: each video read within its first 30 s, found by its name or, for a converted copy,
    the same name with another video extension."""
    candidates = [list(dict.fromkeys([video, os.path.splitext(video)[0]])) for video in benchmark.videos]
    windows = [(0.0, DIDEMO_ANNOTATED_SECONDS)] * len(benchmark.videos)
    return replace(benchmark, format="didemo", windows=windows, candidates=candidates)


def read_activitynet(path: str | os.PathLike) -> RetrievalBenchmark:
    """
    ActivityNet Captions paragraph retrieval (`val_1.json`: `{video id: {"sentences": [...], ...}}`): each video's
    sentences joined into one paragraph over the whole video. The video is `<video_root>/<video id>.mp4` (`v_...`), or
    the id without its `v_` prefix.
    """
    path = Path(path)
    data = _read_json(path)
    if not isinstance(data, dict) or not all(isinstance(entry, dict) for entry in data.values()):
        raise ValueError(f"{path} is not ActivityNet Captions: expected {{video id: {{'sentences': [...]}}}}.")
    pairs = []
    for video, entry in data.items():
        sentences = entry.get("sentences")
        if not isinstance(sentences, list) or not sentences:
            raise ValueError(f"{path}, video {video!r}: expected a non-empty 'sentences' list.")
        pairs.extend((video, _text(sentence, f"{path}, video {video!r}")) for sentence in sentences)
    videos, captions, text_to_video = _group_pairs(pairs, paragraph=True)
    candidates = [list(dict.fromkeys([video, video.removeprefix("v_")])) for video in videos]
    return RetrievalBenchmark("activitynet", str(path), videos, captions, text_to_video, candidates=candidates)


def read_lsmdc(path: str | os.PathLike) -> RetrievalBenchmark:
    """
    LSMDC (`LSMDC16_challenge_1000_publictect.csv`, tab-separated `clip id, start aligned, end aligned, start
    extracted, end extracted, sentence`, no header). The clip is `<video_root>/<movie>/<clip id>.avi` (the movie is
    the clip id up to its last `_`), or `<video_root>/<clip id>.avi`.
    """
    path = Path(path)
    pairs = []
    with open(path, encoding="utf-8-sig") as handle:
        for line_number, line in enumerate(handle, start=1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            fields = line.split("\t")
            if len(fields) < 2:
                raise ValueError(
                    f"{path}, line {line_number}: expected tab-separated <clip id> ... <sentence>, got {line!r}."
                )
            pairs.append((fields[0].strip(), _text(fields[-1], f"{path}, line {line_number}")))
    if not pairs:
        raise ValueError(f"{path} holds no annotation.")
    videos, captions, text_to_video = _group_pairs(pairs)
    candidates = [[f"{video.rsplit('_', 1)[0]}/{video}", video] for video in videos]
    return RetrievalBenchmark("lsmdc", str(path), videos, captions, text_to_video, candidates=candidates)


def read_retrieval_json(path: str | os.PathLike, paragraph: bool = False) -> RetrievalBenchmark:
    """
    The JSON of the CLIP4Clip / VINDLU / UMT code the InternVideo evaluation uses (`msrvtt_test1k.json`,
    `didemo_ret_test.json`, ...): a list of `{"video": path, "caption": text or [texts]}` (or JSON Lines). Rows naming
    the same video are merged. With `paragraph`, a video's captions become one paragraph (DiDeMo, ActivityNet).

    The benchmark is recognised when every video name is one of its own, so that the card names it and the published
    results are printed beside the run's: MSR-VTT names (`video<N>.mp4`) with one caption per video are MSR-VTT
    1k-A; with `paragraph`, DiDeMo's Flickr names are DiDeMo (each video read within its first 30 s, as the
    `didemo` format) and `v_<YouTube id>` names ActivityNet Captions. Any other file is `json` ("custom").
    """
    path = Path(path)
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        rows = []
        for line_number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as error:
                    raise ValueError(f"{path}, line {line_number}: not a JSON object ({error}).") from None
    else:
        rows = _read_json(path)
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise ValueError(f"{path} must hold a list of objects {{'video': ..., 'caption': ...}}.")
    pairs = []
    for number, row in enumerate(rows):
        if "video" not in row or "caption" not in row:
            raise ValueError(f"{path}, entry {number}: expected 'video' and 'caption', got {sorted(row)}.")
        texts = row["caption"] if isinstance(row["caption"], list) else [row["caption"]]
        pairs.extend((str(row["video"]), _text(text, f"{path}, entry {number}")) for text in texts)
    videos, captions, text_to_video = _group_pairs(pairs, paragraph=paragraph)
    return _recognise_benchmark(RetrievalBenchmark("json", str(path), videos, captions, text_to_video), paragraph)


def _recognise_benchmark(benchmark: RetrievalBenchmark, paragraph: bool) -> RetrievalBenchmark:
    """A `json` benchmark as the public benchmark its video names show (see [`read_retrieval_json`]), if any."""

    def all_named(pattern: re.Pattern) -> bool:
        return all(pattern.fullmatch(os.path.basename(video)) for video in benchmark.videos)

    if all_named(_MSRVTT_VIDEO) and not paragraph and len(benchmark.captions) == len(benchmark.videos):
        recognised = replace(benchmark, format="msrvtt_1k")
    elif all_named(_DIDEMO_VIDEO) and paragraph:
        recognised = _as_didemo(benchmark)
    elif all_named(_ACTIVITYNET_VIDEO) and paragraph:
        recognised = replace(benchmark, format="activitynet")
    else:
        if all_named(_DIDEMO_VIDEO) or all_named(_ACTIVITYNET_VIDEO):
            logger.warning(
                f"{benchmark.source} names DiDeMo or ActivityNet videos: their protocol is paragraph retrieval "
                "(each video's captions joined into one); pass --paragraph to evaluate it."
            )
        return benchmark
    logger.info(f"{benchmark.source}: {recognised.name}, recognised from its video names.")
    return recognised


def detect_format(path: str | os.PathLike) -> str:
    """
    The format of an annotation file, from its content: see the module docstring.

    Raises:
        `ValueError`: naming the file when no format matches, with the list of formats to choose from.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Annotation file {path} does not exist.")
    suffix = path.suffix.lower()
    if suffix in (".pkl", ".pickle"):
        return "msvd"
    if suffix in (".jsonl", ".ndjson"):
        return "json"
    if suffix == ".json":
        data = _read_json(path)
        if isinstance(data, dict) and "videos" in data and "sentences" in data:
            return "msrvtt_full"
        if isinstance(data, dict) and data and all(isinstance(v, dict) and "sentences" in v for v in data.values()):
            return "activitynet"
        if isinstance(data, list) and data and all(isinstance(row, dict) for row in data):
            if all("description" in row and "video" in row for row in data):
                return "didemo"
            if all("caption" in row and "video" in row for row in data):
                return "json"
    else:
        with open(path, encoding="utf-8-sig") as handle:
            first = handle.readline()
        if "\t" in first:
            return "lsmdc"
        header = {name.strip() for name in first.strip().split(",")}
        if {"video_id", "sentence"} <= header:
            return "msrvtt_1k"
        if suffix == ".txt" and first.strip():
            return "msvd"
    raise ValueError(
        f"Cannot tell the format of {path}; choose one with --annotation_format ({', '.join(BENCHMARK_FORMATS)})."
    )


def load_benchmark(
    path: str | os.PathLike,
    annotation_format: str = "auto",
    *,
    split: str = "test",
    split_file: str | os.PathLike | None = None,
    paragraph: bool = False,
) -> RetrievalBenchmark:
    """
    Reads a retrieval benchmark's annotation file.

    Args:
        path: the annotation file.
        annotation_format (`str`, defaults to `"auto"`): one of [`BENCHMARK_FORMATS`], or `"auto"` ([`detect_format`]).
        split (`str`, defaults to `"test"`): the split of `msrvtt_full`.
        split_file: for `msvd`, the file listing the split's video ids (`test_list.txt`).
        paragraph (`bool`): for `json`, join each video's captions into one paragraph.
    """
    if annotation_format == "auto":
        annotation_format = detect_format(path)
    elif annotation_format not in BENCHMARK_FORMATS:
        raise ValueError(f"Unknown annotation format {annotation_format!r}; choose one of {BENCHMARK_FORMATS}.")
    if not Path(path).is_file():
        raise FileNotFoundError(f"Annotation file {path} does not exist.")
    readers: dict[str, Callable[[], RetrievalBenchmark]] = {
        "msrvtt_1k": lambda: read_msrvtt_1k(path),
        "msrvtt_full": lambda: read_msrvtt_full(path, split=split),
        "msvd": lambda: read_msvd(path, split_file=split_file),
        "didemo": lambda: read_didemo(path),
        "activitynet": lambda: read_activitynet(path),
        "lsmdc": lambda: read_lsmdc(path),
        "json": lambda: read_retrieval_json(path, paragraph=paragraph),
    }
    if split_file is not None and annotation_format != "msvd":
        raise ValueError(f"--split_file is for MSVD annotations; {path} is {annotation_format}.")
    if paragraph and annotation_format != "json":
        logger.info(f"--paragraph applies to the json format; {annotation_format} decides by itself.")
    return readers[annotation_format]()


def resolve_benchmark_videos(
    benchmark: RetrievalBenchmark, video_root: str | os.PathLike | None
) -> tuple[list[str | None], list[int]]:
    """
    The file of each video: the first of its candidate paths that exists under `video_root` (each also tried with
    the extensions of [`VIDEO_EXTENSIONS`], and for a name that has one, its stem with the others).

    Returns:
        `(paths, missing)`: the resolved path of each video (`None` where none exists) and the indices of the missing.
    """
    paths, missing = [], []
    for index, candidates in enumerate(benchmark.candidates):
        found = None
        for candidate in candidates:
            try:
                found = str(resolve_video_path(candidate, video_root))
                break
            except FileNotFoundError:
                continue
        paths.append(found)
        if found is None:
            missing.append(index)
    return paths, missing


__all__ = [
    "BENCHMARK_FORMATS",
    "BENCHMARK_NAMES",
    "DIDEMO_ANNOTATED_SECONDS",
    "PUBLISHED_ZERO_SHOT_R1",
    "VIDEO_EXTENSIONS",
    "RetrievalBenchmark",
    "detect_format",
    "join_paragraph",
    "load_benchmark",
    "read_activitynet",
    "read_didemo",
    "read_lsmdc",
    "read_msrvtt_1k",
    "read_msrvtt_full",
    "read_msvd",
    "read_retrieval_json",
    "read_video_id_list",
    "resolve_benchmark_videos",
]
