# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""The retrieval benchmarks' protocols: rank arithmetic, dual softmax, several captions per video, paragraphs, the
public annotation formats, and `run_retrieval.py` end to end on synthetic clips."""

import json
import math
import pickle
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from viclip_train.eval.benchmarks import (
    DIDEMO_ANNOTATED_SECONDS,
    detect_format,
    join_paragraph,
    load_benchmark,
    read_activitynet,
    read_didemo,
    read_lsmdc,
    read_msrvtt_1k,
    read_msrvtt_full,
    read_msvd,
    read_retrieval_json,
    resolve_benchmark_videos,
)
from viclip_train.eval.retrieval import (
    benchmark_retrieval_metrics,
    dual_softmax_scores,
    multi_caption_positives,
    query_ranks,
    rank_metrics,
)


BENCHMARKS = Path(__file__).parent / "fixtures" / "benchmarks"


# ------------------------------------------------------------------------------------------------------------------
# Rank arithmetic
# ------------------------------------------------------------------------------------------------------------------


def test_query_rank_counts_the_negatives_scoring_at_least_as_high_as_the_best_positive():
    scores = torch.tensor([[0.9, 0.5, 0.1], [0.2, 0.8, 0.8], [0.7, 0.6, 0.3]])
    positives = torch.tensor([[True, False, False], [False, False, True], [False, False, True]])
    # query 0: its positive is first; query 1: tied with a negative (ties count against); query 2: last of three
    assert query_ranks(scores, positives).tolist() == [0, 1, 2]


def test_rank_metrics_give_recalls_in_percent_and_one_based_median_and_mean_ranks():
    metrics = rank_metrics(torch.tensor([0, 0, 3, 4, 12]), "t2v")
    assert metrics["t2v_r1"] == 40.0 and metrics["t2v_r5"] == 80.0 and metrics["t2v_r10"] == 80.0
    assert metrics["t2v_median_rank"] == 4.0  # 0-based median 3, 1-based 4
    assert metrics["t2v_mean_rank"] == pytest.approx((0 + 0 + 3 + 4 + 12) / 5 + 1)
    assert metrics["t2v_mean_recall"] == pytest.approx((40 + 80 + 80) / 3)


def test_median_rank_of_an_even_count_is_the_mean_of_the_middle_two_as_np_median_gives_it():
    assert rank_metrics(torch.tensor([0, 1, 4, 9]), "v2t")["v2t_median_rank"] == 3.5  # (1 + 4) / 2 + 1, not floored
    ranks = torch.randint(0, 1000, (1000,))
    assert rank_metrics(ranks, "t2v")["t2v_median_rank"] == float(np.median(ranks.numpy())) + 1


def test_dual_softmax_matches_a_hand_computed_example_and_demotes_a_hub_video():
    # similarity[video, text]: video 0 is a "hub", close to both texts; text 1 belongs to video 1.
    similarity = torch.tensor([[0.50, 0.45], [0.10, 0.40]])
    video_to_text, text_to_video = dual_softmax_scores(similarity)
    # text_to_video[t, v] = sim[v, t] * softmax over texts of video v's column: e^s / (e^s + e^s')
    p_text1_given_video0 = math.exp(0.45) / (math.exp(0.50) + math.exp(0.45))  # 0.48750
    p_text1_given_video1 = math.exp(0.40) / (math.exp(0.10) + math.exp(0.40))  # 0.57444
    assert text_to_video[1, 0].item() == pytest.approx(0.45 * p_text1_given_video0, abs=1e-6)  # 0.21938
    assert text_to_video[1, 1].item() == pytest.approx(0.40 * p_text1_given_video1, abs=1e-6)  # 0.22978
    # video_to_text[v, t] = sim[v, t] * softmax over videos of text t's column
    p_video0_given_text0 = math.exp(0.50) / (math.exp(0.50) + math.exp(0.10))
    assert video_to_text[0, 0].item() == pytest.approx(0.50 * p_video0_given_text0, abs=1e-6)
    # raw: text 1 retrieves the hub video 0 (wrong); DSL: its own video 1
    raw = benchmark_retrieval_metrics(similarity, [0, 1])
    assert raw["t2v_r1"] == 50.0 and raw["dsl_t2v_r1"] == 100.0


def test_dual_softmax_orientation_follows_the_reference_dims():
    similarity = torch.randn(5, 7)
    video_to_text, text_to_video = dual_softmax_scores(similarity)
    assert video_to_text.shape == (5, 7) and text_to_video.shape == (7, 5)
    torch.testing.assert_close(video_to_text, similarity * torch.softmax(similarity, dim=0))
    torch.testing.assert_close(text_to_video, similarity.T * torch.softmax(similarity.T, dim=0))


def test_a_caption_needs_its_own_video_and_a_video_any_of_its_captions():
    # 2 videos, 4 captions: captions 0, 1 describe video 0; captions 2, 3 video 1.
    similarity = torch.tensor(
        [
            [0.9, 0.2, 0.1, 0.8],  # video 0: its caption 0 is best -> v2t rank 0
            [0.1, 0.7, 0.6, 0.3],  # video 1: caption 1 (of video 0) is best, its caption 2 second -> v2t rank 1
        ]
    )
    metrics = benchmark_retrieval_metrics(similarity, [0, 0, 1, 1], dual_softmax=False)
    # t2v: caption 0 -> video 0 ok; caption 1 -> video 1 (wrong); caption 2 -> video 1 ok; caption 3 -> video 0 (wrong)
    assert metrics["t2v_r1"] == 50.0 and metrics["t2v_r5"] == 100.0
    assert metrics["v2t_r1"] == 50.0 and metrics["v2t_median_rank"] == 1.5  # ranks [0, 1]: median 0.5, 1-based
    assert not any(name.startswith("dsl_") for name in metrics)


def test_identical_captions_of_different_videos_are_not_grouped():
    similarity = torch.eye(2)
    metrics = benchmark_retrieval_metrics(torch.ones(2, 2), [0, 1], dual_softmax=False)
    assert metrics["t2v_r1"] == 0.0  # every tie counts against, whatever the captions say
    assert benchmark_retrieval_metrics(similarity, [0, 1])["t2v_r1"] == 100.0


def test_every_video_needs_a_caption():
    with pytest.raises(ValueError, match=r"Videos \[1\] have no caption"):
        multi_caption_positives([0, 0, 2], num_videos=3)


def test_paragraph_joins_stripped_captions_with_a_space_in_order():
    paragraph = join_paragraph(["A man sits.", "  He stands up. ", "", "He leaves."])
    assert paragraph == "A man sits. He stands up. He leaves."


# ------------------------------------------------------------------------------------------------------------------
# Annotation formats
# ------------------------------------------------------------------------------------------------------------------


def test_msrvtt_1k_csv_gives_one_video_per_caption():
    benchmark = read_msrvtt_1k(BENCHMARKS / "MSRVTT_JSFUSION_test.csv")
    assert benchmark.videos == ["video9770", "video7606", "video9731"]
    assert benchmark.captions[2] == "a woman creating a fondant baby and flower"
    assert benchmark.text_to_video == [0, 1, 2] and benchmark.windows == [None] * 3


def test_msrvtt_full_json_keeps_the_split_and_all_its_captions():
    benchmark = read_msrvtt_full(BENCHMARKS / "MSRVTT_data.json")
    assert benchmark.videos == ["video7010", "video7011"]
    assert benchmark.captions == [
        "a man is talking about a game",
        "people are dancing on a stage",
        "a man discusses a video game",
        "a group performs a dance",
    ]
    assert benchmark.text_to_video == [0, 1, 0, 1]


def test_msrvtt_full_names_the_splits_when_the_split_is_unknown():
    with pytest.raises(ValueError, match=r"no video in split 'val'.*\['test', 'train', 'validate'\]"):
        read_msrvtt_full(BENCHMARKS / "MSRVTT_data.json", split="val")


def test_msvd_descriptions_follow_the_split_list():
    benchmark = read_msvd(BENCHMARKS / "AllVideoDescriptions.txt", split_file=BENCHMARKS / "test_list.txt")
    assert benchmark.videos == ["zv2RIbUsnSw_159_170", "-4wsuPCjDBc_5_15"]
    assert benchmark.text_to_video == [0, 0, 0, 1, 1]
    assert benchmark.captions[3] == "a squirrel is eating a peanut in it's shell."


def test_msvd_raw_captions_pickle_joins_each_caption_words(tmp_path):
    path = tmp_path / "raw-captions.pkl"
    path.write_bytes(pickle.dumps({"vid1": [["a", "man", "sings"], ["someone", "sings"]], "vid2": [["a", "cat"]]}))
    benchmark = read_msvd(path)
    assert benchmark.captions == ["a man sings", "someone sings", "a cat"] and benchmark.text_to_video == [0, 0, 1]


def test_msvd_pickle_refuses_anything_but_containers(tmp_path):
    path = tmp_path / "raw-captions.pkl"
    path.write_bytes(pickle.dumps({"vid1": [SimpleNamespace(text="x")]}))
    with pytest.raises(ValueError, match="refusing to load types.SimpleNamespace"):
        read_msvd(path)


def test_msvd_split_list_with_unknown_videos_is_an_error(tmp_path):
    split = tmp_path / "test_list.txt"
    split.write_text("zv2RIbUsnSw_159_170\nnot_a_video\n")
    with pytest.raises(ValueError, match="not_a_video"):
        read_msvd(BENCHMARKS / "AllVideoDescriptions.txt", split_file=split)


def test_didemo_concatenates_each_video_descriptions_and_reads_the_first_30_seconds():
    benchmark = read_didemo(BENCHMARKS / "didemo_test_data.json")
    assert benchmark.videos == ["88136487@N00_2913380830_2b3a7c2f84.mov", "12090392@N02_13482799053_87ef417396.mov"]
    assert benchmark.captions == [
        "the little girl on the left is laughing. camera pans to the right",
        "a dog runs across the grass",
    ]
    assert benchmark.text_to_video == [0, 1]
    assert benchmark.windows == [(0.0, DIDEMO_ANNOTATED_SECONDS)] * 2


def test_activitynet_concatenates_each_video_sentences():
    benchmark = read_activitynet(BENCHMARKS / "activitynet_val_1.json")
    assert benchmark.videos == ["v_uqiMw7tQ1Cc", "v_bXdq2zI1Ms0"]
    assert benchmark.captions[0] == (
        "A weight lifting tutorial is given. The coach helps the guy in red with the proper body placement and "
        "lifting technique."
    )
    assert benchmark.text_to_video == [0, 1] and benchmark.windows == [None, None]


def test_lsmdc_reads_the_clip_id_and_the_last_field():
    benchmark = read_lsmdc(BENCHMARKS / "LSMDC16_challenge_1000_publictect.csv")
    assert benchmark.videos == ["1004_Juno_00.00.32.849-00.00.38.275", "3001_21_JUMP_STREET_00.00.16.424-00.00.19.547"]
    assert benchmark.captions == ["SOMEONE sits on the sofa next to her.", "They run down the hall."]
    assert benchmark.candidates[1][0] == "3001_21_JUMP_STREET/3001_21_JUMP_STREET_00.00.16.424-00.00.19.547"


def test_umt_json_takes_one_or_several_captions_per_video():
    benchmark = read_retrieval_json(BENCHMARKS / "msrvtt_test1k.json")
    assert benchmark.videos == ["video9770.mp4", "video7606.mp4"] and benchmark.text_to_video == [0, 1]
    several = read_retrieval_json(BENCHMARKS / "didemo_ret_test.json")
    assert several.text_to_video == [0, 0, 1] and several.format == "json"
    paragraphs = read_retrieval_json(BENCHMARKS / "didemo_ret_test.json", paragraph=True)
    assert paragraphs.captions[0] == "the little girl on the left is laughing. camera pans to the right"


def test_internvideo_msrvtt_test1k_json_is_msrvtt_1k_with_its_published_row():
    import run_retrieval

    benchmark = load_benchmark(BENCHMARKS / "msrvtt_test1k.json")
    assert benchmark.format == "msrvtt_1k" and benchmark.name == "MSR-VTT 1k-A"
    metrics = {f"eval_{d}_{m}": 1.0 for d in ("t2v", "v2t") for m in ("r1", "r5", "r10", "median_rank", "mean_rank")}
    assert "| published, ViCLIP-L/14 InternVid-10M-FLT | text-to-video / video-to-text | 42.4 / 41.3 |" in (
        run_retrieval.results_table(metrics, benchmark.format, dual_softmax=False)
    )


def test_umt_didemo_json_with_paragraph_is_didemo_read_within_its_first_30_seconds():
    benchmark = load_benchmark(BENCHMARKS / "didemo_ret_test.json", paragraph=True)
    assert benchmark.format == "didemo" and benchmark.name == "DiDeMo"
    assert benchmark.windows == [(0.0, DIDEMO_ANNOTATED_SECONDS)] * 2
    assert benchmark.candidates[0] == ["88136487@N00_2913380830_2b3a7c2f84.mp4", "88136487@N00_2913380830_2b3a7c2f84"]


def test_a_json_of_other_video_names_stays_custom(tmp_path):
    path = tmp_path / "mine.json"
    path.write_text(json.dumps([{"video": "video1.mp4", "caption": "a"}, {"video": "clip.mp4", "caption": "b"}]))
    assert load_benchmark(path).format == "json" and load_benchmark(path).name == "custom"


@pytest.mark.parametrize(
    "file_name, expected",
    [
        ("MSRVTT_JSFUSION_test.csv", "msrvtt_1k"),
        ("MSRVTT_data.json", "msrvtt_full"),
        ("AllVideoDescriptions.txt", "msvd"),
        ("didemo_test_data.json", "didemo"),
        ("activitynet_val_1.json", "activitynet"),
        ("LSMDC16_challenge_1000_publictect.csv", "lsmdc"),
        ("msrvtt_test1k.json", "json"),
    ],
)
def test_each_format_is_detected_from_its_content(file_name, expected):
    assert detect_format(BENCHMARKS / file_name) == expected


def test_an_unrecognised_file_names_the_formats_to_choose_from(tmp_path):
    path = tmp_path / "mine.json"
    path.write_text(json.dumps({"some": "thing"}))
    with pytest.raises(ValueError, match="--annotation_format"):
        load_benchmark(path)


def test_a_csv_without_the_msrvtt_columns_names_them(tmp_path):
    path = tmp_path / "test.csv"
    path.write_text("video,caption\nvideo1,a cat\n")
    with pytest.raises(ValueError, match=r"no column\(s\) \['video_id', 'sentence'\]"):
        load_benchmark(path, "msrvtt_1k")


def test_videos_are_found_under_their_benchmark_layout(tmp_path):
    (tmp_path / "3001_21_JUMP_STREET").mkdir()
    (tmp_path / "3001_21_JUMP_STREET" / "3001_21_JUMP_STREET_00.00.16.424-00.00.19.547.avi").touch()
    (tmp_path / "1004_Juno_00.00.32.849-00.00.38.275.avi").touch()
    lsmdc = read_lsmdc(BENCHMARKS / "LSMDC16_challenge_1000_publictect.csv")
    paths, missing = resolve_benchmark_videos(lsmdc, tmp_path)
    assert missing == [] and paths[1].endswith("3001_21_JUMP_STREET/3001_21_JUMP_STREET_00.00.16.424-00.00.19.547.avi")
    # DiDeMo converted to mp4, ActivityNet without the v_ prefix
    (tmp_path / "88136487@N00_2913380830_2b3a7c2f84.mp4").touch()
    (tmp_path / "uqiMw7tQ1Cc.mkv").touch()
    _, missing = resolve_benchmark_videos(read_didemo(BENCHMARKS / "didemo_test_data.json"), tmp_path)
    assert missing == [1]
    paths, missing = resolve_benchmark_videos(read_activitynet(BENCHMARKS / "activitynet_val_1.json"), tmp_path)
    assert paths[0].endswith("uqiMw7tQ1Cc.mkv") and missing == [1]


# ------------------------------------------------------------------------------------------------------------------
# run_retrieval.py end to end
# ------------------------------------------------------------------------------------------------------------------

GREY_LEVELS = (30, 90, 150, 210)


@pytest.fixture(scope="module")
def grey_clips(tmp_path_factory) -> Path:
    """Four synthetic clips of uniform grey levels (`videos/clip{i}.mp4`) and an MSR-VTT full annotation file over
    them with two captions per clip, one of them 40 words long."""
    from viclip_train.data.synthetic import write_video

    root = tmp_path_factory.mktemp("grey_clips")
    (root / "videos").mkdir()
    for index, level in enumerate(GREY_LEVELS):
        write_video(root / "videos" / f"clip{index}.mp4", np.full((8, 32, 32, 3), level, dtype=np.uint8))
    captions = [f"a grey picture number {word}" for word in ("one", "two", "three", "four", "five", "six", "seven")]
    captions.append(" ".join(["grey"] * 40))
    data = {
        "videos": [{"video_id": f"clip{index}", "split": "test"} for index in range(4)],
        "sentences": [{"video_id": f"clip{index % 4}", "caption": caption} for index, caption in enumerate(captions)],
    }
    (root / "MSRVTT_data.json").write_text(json.dumps(data))
    return root


def _run_retrieval(monkeypatch, *arguments) -> dict:
    import run_retrieval

    monkeypatch.setattr(sys, "argv", ["run_retrieval.py", *map(str, arguments)])
    run_retrieval.main()
    output_dir = Path(arguments[list(arguments).index("--output_dir") + 1])
    return json.loads((output_dir / "eval_results.json").read_text())


def _common_arguments(model_folder, clips, output_dir) -> list:
    return [
        "--model_name_or_path", model_folder, "--annotation_file", clips / "MSRVTT_data.json",
        "--video_root", clips / "videos", "--output_dir", output_dir, "--num_workers", "0", "--progress", "false",
    ]  # fmt: skip


def test_run_retrieval_writes_results_card_and_reuses_embeddings(
    tiny_viclip_folder, grey_clips, tmp_path, monkeypatch
):
    output_dir = tmp_path / "out"
    results = _run_retrieval(monkeypatch, *_common_arguments(tiny_viclip_folder, grey_clips, output_dir))
    assert results["benchmark"] == "msrvtt_full"
    assert results["eval_num_videos"] == 4 and results["eval_num_captions"] == 8
    assert results["eval_truncated_captions"] == 1 and results["eval_skipped_videos"] == 0
    for prefix in ("eval_", "eval_dsl_"):
        for name in ("t2v_r1", "t2v_r10", "v2t_r5", "t2v_median_rank", "v2t_mean_rank"):
            assert f"{prefix}{name}" in results
    assert results["eval_t2v_r10"] == 100.0  # 4 videos: everything is within the top 10

    from huggingface_hub import ModelCard

    card = ModelCard.load(output_dir / "README.md")
    metric_types = {result.metric_type for result in card.data.eval_results}
    assert {"recall@1", "recall@5", "recall@10", "median_rank", "mean_rank"} <= metric_types
    r1 = next(r for r in card.data.eval_results if r.metric_type == "recall@1" and r.metric_config == "text-to-video")
    assert r1.metric_value == round(results["eval_t2v_r1"], 2) and r1.dataset_name == "MSR-VTT full"

    # a second run reads both embedding files instead of computing anything
    def fail(*args, **kwargs):
        raise AssertionError("embeddings were recomputed")

    monkeypatch.setattr("run_retrieval.embed_video_dataset", fail)
    monkeypatch.setattr("run_retrieval.embed_captions", fail)
    again = _run_retrieval(monkeypatch, *_common_arguments(tiny_viclip_folder, grey_clips, output_dir))
    assert {name: again[name] for name in results if name.startswith("eval_")} == {
        name: results[name] for name in results if name.startswith("eval_")
    }


def test_run_retrieval_gets_the_known_answer_of_an_oracle_model(tiny_viclip_folder, grey_clips, tmp_path, monkeypatch):
    """An oracle embeds each clip as the one-hot of its grey level and each caption as the one-hot of a chosen clip:
    captions 0-6 point at their own clip, caption 7 (of clip 3) at clip 0. The metrics are then known exactly."""
    from viclip import ViCLIPModel, ViCLIPProcessor

    processor = ViCLIPProcessor.from_pretrained(tiny_viclip_folder)
    data = json.loads((grey_clips / "MSRVTT_data.json").read_text())
    targets = {}
    for index, sentence in enumerate(data["sentences"]):
        ids = processor(text=[sentence["caption"]], normalize_captions=True)["input_ids"][0]
        targets[tuple(ids.tolist())] = 0 if index == 7 else index % 4

    def video_oracle(self, pixel_values, **kwargs):
        grey = (pixel_values[:, :, 0].float().mean(dim=(1, 2, 3)) * 0.229 + 0.485) * 255  # undo the normalisation
        clip = (grey[:, None] - torch.tensor(GREY_LEVELS, dtype=torch.float32)).abs().argmin(dim=1)
        return SimpleNamespace(pooler_output=torch.nn.functional.one_hot(clip, 4).float())

    def text_oracle(self, input_ids, attention_mask=None, **kwargs):
        clips = torch.tensor([targets[tuple(row.tolist())] for row in input_ids])
        return SimpleNamespace(pooler_output=torch.nn.functional.one_hot(clips, 4).float())

    monkeypatch.setattr(ViCLIPModel, "get_video_features", video_oracle)
    monkeypatch.setattr(ViCLIPModel, "get_text_features", text_oracle)
    arguments = _common_arguments(tiny_viclip_folder, grey_clips, tmp_path / "oracle")
    results = _run_retrieval(monkeypatch, *arguments, "--reuse_embeddings", "false")
    # t2v: 7 captions first; caption 7 scores 0 on its clip 3, tied with clips 1 and 2, behind clip 0 -> rank 3
    assert results["eval_t2v_r1"] == 87.5 and results["eval_t2v_r5"] == 100.0
    assert results["eval_t2v_median_rank"] == 1.0 and results["eval_t2v_mean_rank"] == pytest.approx(1 + 3 / 8)
    # v2t: clip 0's captions score 1, and so does caption 7 of clip 3 (a tie, counted against) -> clip 0 at rank 1
    assert results["eval_v2t_r1"] == 75.0 and results["eval_v2t_mean_rank"] == pytest.approx(1 + 1 / 4)


def test_run_retrieval_lists_missing_videos_or_skips_them(tiny_viclip_folder, grey_clips, tmp_path, monkeypatch):
    partial = tmp_path / "videos"
    partial.mkdir()
    for index in (0, 2):
        (partial / f"clip{index}.mp4").write_bytes((grey_clips / "videos" / f"clip{index}.mp4").read_bytes())
    arguments = _common_arguments(tiny_viclip_folder, grey_clips, tmp_path / "out")
    arguments[arguments.index("--video_root") + 1] = partial
    with pytest.raises(FileNotFoundError, match=r"2 of the 4 videos .*: clip1, clip3\. .*--skip_missing_videos"):
        _run_retrieval(monkeypatch, *arguments)
    results = _run_retrieval(monkeypatch, *arguments, "--skip_missing_videos", "true")
    assert results["eval_num_videos"] == 2 and results["eval_num_captions"] == 4
