# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""The shipped Kinetics class-name lists and the rule that matches a user's labels to them."""

import configparser
from pathlib import Path

import pytest

from viclip.pipeline_viclip import KINETICS_TEMPLATES
from viclip.tokenization_viclip import normalize_training_caption
from viclip_train.data.annotations import load_annotations
from viclip_train.eval.label_sets import (
    canonicalize_labels,
    label_match_key,
    label_set_names,
    label_set_path,
    load_label_set,
    match_labels,
    reference_prompt_text,
)


@pytest.mark.parametrize(
    "name, size, first, last",
    [
        ("kinetics400", 400, "abseiling", "zumba"),
        ("kinetics600", 600, "abseiling", "zumba"),
        ("kinetics700", 700, "abseiling", "zumba"),
    ],
)
def test_each_label_set_lists_its_distinct_classes_in_the_official_order(name, size, first, last):
    names = load_label_set(name)
    assert len(names) == len(set(names)) == size
    assert names[0] == first and names[-1] == last and names == sorted(names, key=str.lower)


def test_label_sets_keep_the_published_spelling():
    assert "passing American football (in game)" in load_label_set("kinetics400")
    assert "passing american football (not in game)" in load_label_set("kinetics600")
    assert "massaging person's head" in load_label_set("kinetics700")


@pytest.mark.parametrize("spelling", ["Kinetics-400", "kinetics_400", "K400", "kinetics400"])
def test_label_set_names_accept_common_spellings(spelling):
    assert load_label_set(spelling) == load_label_set("kinetics400")


def test_an_unknown_label_set_lists_the_shipped_ones():
    with pytest.raises(ValueError, match=r"Unknown label set 'ucf101'.*kinetics400.*kinetics700"):
        load_label_set("ucf101")


def test_label_set_files_ship_as_package_data():
    setup = configparser.ConfigParser()
    setup.read(Path(__file__).parents[1] / "setup.cfg")
    assert "label_sets/*.txt" in setup["options.package_data"]["viclip_train.eval"]
    for name in label_set_names():
        assert label_set_path(name).parent.name == "label_sets" and label_set_path(name).is_file()


@pytest.mark.parametrize("name", ["kinetics400", "kinetics600", "kinetics700"])
def test_no_two_classes_of_a_set_share_a_match_key(name):
    names = load_label_set(name)
    assert len({label_match_key(class_name) for class_name in names}) == len(names)


@pytest.mark.parametrize(
    "label, official",
    [
        ("air drumming", "air drumming"),
        ("air_drumming", "air drumming"),
        ('"Air Drumming"', "air drumming"),
        ("  air   drumming ", "air drumming"),
        ("passing_American_football_(in_game)", "passing American football (in game)"),
        ("passing american football in game", "passing American football (in game)"),
        ("skiing (not slalom or crosscountry)", "skiing (not slalom or crosscountry)"),
        ("massaging_persons_head", "massaging person's head"),
        ("'massaging person's head'", "massaging person's head"),
        ("hula-hooping", "hula hooping"),
    ],
)
def test_labels_match_official_names_ignoring_case_separators_and_punctuation(label, official):
    names = load_label_set("kinetics400")
    assert names[match_labels([label], names)[0]] == official


def test_integer_labels_are_indices_in_the_official_order():
    names = load_label_set("kinetics600")
    assert match_labels([0, 599], names) == [0, 599]


def test_unknown_labels_are_listed_with_the_closest_class_and_the_source():
    names = load_label_set("kinetics400")
    with pytest.raises(ValueError, match=r"val\.csv has 2 label\(s\) that are not kinetics400 classes") as error:
        match_labels(["abseiling", "air drummming", "flying a drone"], names, "val.csv", "kinetics400")
    message = str(error.value)
    assert "'air drummming' (closest: 'air drumming')" in message and "'flying a drone'" in message


def test_an_integer_outside_the_set_is_unknown():
    with pytest.raises(ValueError, match="1 label"):
        match_labels([400], load_label_set("kinetics400"))


def test_canonicalize_labels_rewrites_a_video_label_csv_with_official_names(tmp_path):
    path = tmp_path / "k400_val.csv"
    path.write_text('video,label\na.mp4,air_drumming\nb.mp4,"passing American football (in game)"\nc.mp4,Zumba\n')
    table = load_annotations(path, caption_column=None, label_column="label")
    table = canonicalize_labels(table, load_label_set("kinetics400"), source=str(path))
    assert table["label"] == ["air drumming", "passing American football (in game)", "zumba"]
    assert table["video"] == ["a.mp4", "b.mp4", "c.mp4"]


def test_reference_prompts_equal_the_normalised_filled_templates():
    for set_name in label_set_names():
        names = load_label_set(set_name)
        prompt_names, templates = reference_prompt_text(names, KINETICS_TEMPLATES)
        for name, prompt_name in zip(names, prompt_names, strict=True):
            for template, normalised_template in zip(KINETICS_TEMPLATES, templates, strict=True):
                assert normalised_template.format(prompt_name) == normalize_training_caption(template.format(name))
    assert reference_prompt_text(["passing American football (in game)"], ["Can you recognize the action of {}?"]) == (
        ["passing american football in game"],
        ["can you recognize the action of {}"],
    )
