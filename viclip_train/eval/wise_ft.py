# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
r"""
WiSE-FT weight-space ensembling of a ViCLIP model with the model its pretraining started from, as the reference's
zero-shot evaluation configs offer it (`wiseft = dict(coef=0.5, keys_to_exclude=[temporal table])`):

    python -m viclip_train.eval.wise_ft --viclip_model_name_or_path VICLIP_DIR --clip_model_name_or_path CLIP_DIR \
        --output_dir viclip-wiseft05 [--coef 0.5]

The model "built from the CLIP initialisation" is `viclip_from_clip(CLIP_DIR)` with the ViCLIP
folder's frame count, text context and activation: the CLIP towers with a per-frame patch embedding, a zero temporal
table, text positions cut to 32 and CLIP's logit scale. Every tensor the two models share (same name and shape)
becomes `coef * viclip + (1 - coef) * clip_init`, computed in float32 and stored in the ViCLIP tensor's dtype; a tensor
that is excluded (`--exclude`, by default the temporal position table, which CLIP does not have) or that exists on
one side only keeps the ViCLIP value. The logit scale is mixed like any tensor (in log space, where the reference
mixes its temperature; rankings and top-k accuracies do not depend on it).

The output folder is complete: weights, config, the ViCLIP folder's processor, the remote-code files and a model card
naming the coefficient and both sources. `--help` lists every flag.

Both folders are checked before any tensor is mixed or anything written: the ViCLIP side must be a dual encoder
(`config.json` of model type `viclip` for `ViCLIPModel`, or a released OpenGVLab checkpoint) whose weights fill both
towers, the CLIP side a `CLIPModel` (model type `clip`) with both towers. A fine-tuned classifier, a single tower, or
the two folders swapped is an error naming the folder, the model it holds and the one expected (exit status 1).
"""

import fnmatch
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import torch
from huggingface_hub import ModelCard
from transformers import HfArgumentParser, PreTrainedConfig

from viclip import ViCLIPConfig, ViCLIPModel
from viclip_train.arguments import CommandHelpFormatter, parse_arguments_with_json
from viclip_train.convert import viclip_from_clip
from viclip_train.loading import load_processor
from viclip_train.model_card import (
    build_model_card,
    card_license,
    display_name,
    dual_encoder_classification_section,
    dual_encoder_usage,
    hub_repo_id,
    save_model_card,
    usage_model_id,
)


logger = logging.getLogger(__name__)

DEFAULT_EXCLUDED: tuple[str, ...] = ("vision_model.embeddings.temporal_embedding",)
"""Tensors that keep the ViCLIP value by default: the temporal position table (the reference's
`vision_encoder.temporal_positional_embedding`), which the CLIP initialisation only holds as zeros."""

_MATCHED_CONFIG_FIELDS = (
    ("vision_config", "hidden_size"),
    ("vision_config", "num_hidden_layers"),
    ("vision_config", "patch_size"),
    ("vision_config", "image_size"),
    ("text_config", "hidden_size"),
    ("text_config", "num_hidden_layers"),
    ("text_config", "vocab_size"),
    (None, "projection_dim"),
)


@dataclass
class WiseFTReport:
    """Which tensors were mixed and which kept the ViCLIP value, and why."""

    mixed: list[str] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)
    only_in_viclip: list[str] = field(default_factory=list)
    only_in_clip_init: list[str] = field(default_factory=list)
    shape_mismatch: list[str] = field(default_factory=list)
    not_floating_point: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line of counts, for logs and the model card."""
        kept = {
            "excluded": self.excluded,
            "only in the ViCLIP model": self.only_in_viclip,
            "of another shape in the CLIP initialisation": self.shape_mismatch,
            "not floating point": self.not_floating_point,
        }
        parts = [f"{len(self.mixed)} tensors mixed"]
        parts += [f"{len(names)} kept ({why})" for why, names in kept.items() if names]
        if self.only_in_clip_init:
            parts.append(f"{len(self.only_in_clip_init)} of the CLIP initialisation ignored (not in the ViCLIP model)")
        return ", ".join(parts)


class WiseFTSourceError(ValueError):
    """A folder given to WiSE-FT that does not hold the model its flag asks for; the message names it and the fix."""


_EXPECTED_MODELS = {
    "--viclip_model_name_or_path": ("viclip", "ViCLIPModel", "a ViCLIP dual encoder (run_pretrain.py's output)"),
    "--clip_model_name_or_path": ("clip", "CLIPModel", "a transformers CLIP dual encoder"),
}


def _declared_model(path: str) -> tuple[str | None, list[str]] | None:
    """The `model_type` and `architectures` a folder's `config.json` declares, or `None` when it has none (OpenGVLab's
    released layouts, which the loading path checks)."""
    try:
        config, _ = PreTrainedConfig.get_config_dict(path)
    except OSError:
        return None
    return config.get("model_type"), list(config.get("architectures") or [])


def check_source_folder(flag: str, path: str) -> None:
    """
    Refuses a folder that does not hold the model `flag` asks for, from its `config.json` alone (before any weight is
    read): another model type (the two folders swapped, a tower on its own) or another architecture of the right type
    (a fine-tuned classifier, which has no text tower to mix).

    Raises:
        [`WiseFTSourceError`]: naming the flag, the folder, the model found and the model expected.
    """
    model_type, architecture, description = _EXPECTED_MODELS[flag]
    declared = _declared_model(path)
    if declared is None or declared[0] is None:
        return
    found_type, found_architectures = declared
    if found_type == model_type and (not found_architectures or architecture in found_architectures):
        return
    found = f"{', '.join(found_architectures) or 'a model'} (model type {found_type!r})"
    swapped = {"viclip": "--viclip_model_name_or_path", "clip": "--clip_model_name_or_path"}.get(found_type)
    if swapped is not None and swapped != flag:
        fix = "The two folders look swapped: give the ViCLIP folder first and the CLIP folder second."
    elif found_type == model_type:
        fix = (
            f"WiSE-FT mixes both towers, and a {found_architectures[0]} folder does not hold both (a fine-tuned "
            f"classifier keeps the video tower only): give the folder of {description}."
        )
    else:
        fix = f"Give the folder or Hub id of {description}."
    raise WiseFTSourceError(
        f"{flag} {path} holds {found}, where WiSE-FT needs {architecture} (model type {model_type!r}). {fix}"
    )


def load_dual_encoder(path: str) -> ViCLIPModel:
    """
    The ViCLIP dual encoder of `--viclip_model_name_or_path`, once its `config.json` is checked
    ([`check_source_folder`]) and its weights fill every tensor of both towers (none missing, none left over).

    Raises:
        [`WiseFTSourceError`]: naming the folder and the weights missing or left over.
    """
    check_source_folder("--viclip_model_name_or_path", path)
    model, loading_info = ViCLIPModel.from_pretrained(path, output_loading_info=True)
    missing, unexpected = sorted(loading_info["missing_keys"]), sorted(loading_info["unexpected_keys"])
    if missing or unexpected:
        raise WiseFTSourceError(
            f"--viclip_model_name_or_path {path} does not hold the weights of a complete ViCLIPModel: "
            f"{len(missing)} missing (e.g. {missing[:3]}), {len(unexpected)} not of the model (e.g. {unexpected[:3]}). "
            "WiSE-FT would mix randomly initialised towers; give the folder of a ViCLIP dual encoder."
        )
    return model


def _check_coef(coef: float) -> None:
    if not 0.0 <= coef <= 1.0:
        raise ValueError(f"The WiSE-FT coefficient must lie in [0, 1] (1 keeps the ViCLIP model), got {coef}.")


def wise_ft_state_dict(
    viclip_state: Mapping[str, torch.Tensor],
    clip_init_state: Mapping[str, torch.Tensor],
    coef: float = 0.5,
    exclude: Sequence[str] = DEFAULT_EXCLUDED,
) -> tuple[dict[str, torch.Tensor], WiseFTReport]:
    """
    The WiSE-FT mixture of two state dicts.

    Args:
        viclip_state: the ViCLIP model's tensors (the fine-tuned side).
        clip_init_state: the tensors of the model built from the CLIP initialisation.
        coef (`float`, defaults to 0.5): weight of the ViCLIP side, in [0, 1].
        exclude (sequence of `str`): names or shell-style patterns (`vision_model.embeddings.*`) of tensors that keep
            the ViCLIP value. A pattern that matches no tensor is an error (a misspelt name would silently exclude
            nothing).

    Returns:
        `(state_dict, report)`: every key of `viclip_state`; shared floating-point tensors of equal shape are
        `coef * viclip + (1 - coef) * clip_init` (in float32, cast back to the ViCLIP dtype), the others keep the
        ViCLIP value. The report lists each kind.
    """
    _check_coef(coef)
    unmatched = [pattern for pattern in exclude if not fnmatch.filter(viclip_state, pattern)]
    if unmatched:
        examples = sorted(viclip_state)[:3]
        raise ValueError(
            f"--exclude {unmatched} match no tensor of the ViCLIP model; names look like {examples}, e.g. "
            f"{DEFAULT_EXCLUDED[0]!r} (shell patterns such as 'vision_model.embeddings.*' work)."
        )
    report = WiseFTReport(only_in_clip_init=sorted(set(clip_init_state) - set(viclip_state)))
    mixed_state = {}
    for name, viclip_tensor in viclip_state.items():
        clip_tensor = clip_init_state.get(name)
        if any(fnmatch.fnmatchcase(name, pattern) for pattern in exclude):
            report.excluded.append(name)
        elif clip_tensor is None:
            report.only_in_viclip.append(name)
        elif clip_tensor.shape != viclip_tensor.shape:
            report.shape_mismatch.append(name)
        elif not (viclip_tensor.is_floating_point() and clip_tensor.is_floating_point()):
            report.not_floating_point.append(name)
        else:
            mixture = coef * viclip_tensor.float() + (1 - coef) * clip_tensor.to(viclip_tensor.device).float()
            mixed_state[name] = mixture.to(viclip_tensor.dtype)
            report.mixed.append(name)
            continue
        mixed_state[name] = viclip_tensor.clone()
    return mixed_state, report


def clip_initialisation(viclip_config: ViCLIPConfig, clip_model_name_or_path: str) -> ViCLIPModel:
    """
    The ViCLIP model freshly built from a transformers CLIP folder the way pretraining starts
    ([`~viclip_train.convert.viclip_from_clip`]), with `viclip_config`'s frame count, text context and activation.

    Raises:
        [`WiseFTSourceError`] (a `ValueError`): when the folder holds no `CLIPModel` ([`check_source_folder`]), lacks
        weights of a tower, or its sizes differ from the ViCLIP model's (it cannot be its initialisation).
    """
    check_source_folder("--clip_model_name_or_path", clip_model_name_or_path)
    vision, text = viclip_config.vision_config, viclip_config.text_config
    try:
        model = viclip_from_clip(
            clip_model_name_or_path,
            num_frames=vision.num_frames,
            max_text_positions=text.max_position_embeddings,
            hidden_act=vision.hidden_act,
        )
    except ValueError as error:
        raise WiseFTSourceError(f"--clip_model_name_or_path: {error}") from error
    different = []
    for tower, name in _MATCHED_CONFIG_FIELDS:
        ours = getattr(getattr(viclip_config, tower) if tower else viclip_config, name)
        theirs = getattr(getattr(model.config, tower) if tower else model.config, name)
        if ours != theirs:
            different.append(f"{tower + '.' if tower else ''}{name} {ours} vs {theirs}")
    if different:
        raise WiseFTSourceError(
            f"{clip_model_name_or_path} cannot be the CLIP initialisation of this ViCLIP model: "
            f"{', '.join(different)} (ViCLIP vs CLIP). Give the CLIP checkpoint its pretraining started from (L/14: "
            "the DataComp-XL ViT-L/14; B/16: a ViT-B/16 CLIP)."
        )
    return model


@torch.no_grad()
def wise_ft(
    viclip_model: ViCLIPModel, clip_init: ViCLIPModel, coef: float = 0.5, exclude: Sequence[str] = DEFAULT_EXCLUDED
) -> WiseFTReport:
    """Mixes `clip_init` into `viclip_model` in place ([`wise_ft_state_dict`]) and returns the report."""
    state, report = wise_ft_state_dict(viclip_model.state_dict(), clip_init.state_dict(), coef, exclude)
    viclip_model.load_state_dict(state)
    return report


@dataclass
class WiseFTArguments:
    """The two models, the coefficient and the output folder."""

    viclip_model_name_or_path: str = field(
        metadata={"help": "The ViCLIP folder or Hub id to ensemble (a converted checkpoint, run_pretrain.py output)."}
    )
    clip_model_name_or_path: str = field(
        metadata={
            "help": "The transformers CLIPModel folder or Hub id its pretraining was initialised from; the model "
            "built from it (viclip_from_clip) is the other side of the mixture."
        }
    )
    output_dir: str = field(metadata={"help": "Where the new ViCLIP folder is written."})
    coef: float = field(
        default=0.5,
        metadata={"help": "Weight of the ViCLIP model, in [0, 1]: coef * viclip + (1 - coef) * clip_init."},
    )
    exclude: list[str] = field(
        default_factory=lambda: list(DEFAULT_EXCLUDED),
        metadata={
            "help": "Tensors that keep the ViCLIP value: names or shell patterns (vision_model.embeddings.*); 'none' "
            "for no exclusion. Default: the temporal position table, as the reference."
        },
    )
    card_license: str | None = field(
        default=None,
        metadata={
            "help": "Hub licence id for the card (default: the one the ViCLIP folder's card declares, else 'other'; "
            "the weights derive from both models, check both licences)."
        },
    )


def _card_license(viclip_model_name_or_path: str, chosen: str | None) -> tuple[str | None, str]:
    """The card's licence (`None` when unknown) and the sentence explaining it."""
    if chosen:
        return chosen, "Set with `--card_license`; the weights derive from both source models."
    declared = card_license(viclip_model_name_or_path)
    if declared:
        return declared, (
            f"The licence the card of {display_name(viclip_model_name_or_path)} declares; these weights also derive "
            "from the CLIP model, whose licence applies as well."
        )
    return None, (
        "Unknown: the weights derive from both source models, whose licences apply. `--card_license` sets one."
    )


def wise_ft_model_card(args: WiseFTArguments, exclude: Sequence[str], report: WiseFTReport) -> ModelCard:
    """The Hub card of the output folder, naming the coefficient, the sources and what was mixed."""
    license_id, license_note = _card_license(args.viclip_model_name_or_path, args.card_license)
    sources = (args.viclip_model_name_or_path, args.clip_model_name_or_path)
    base_models = [name for name in map(hub_repo_id, sources) if name]
    excluded = ", ".join(f"`{name}`" for name in exclude) or "none"
    method = (
        f"Every tensor shared by the two models became `{args.coef:g} * ViCLIP + {1 - args.coef:g} * CLIP "
        "initialisation` (float32 arithmetic), where the CLIP initialisation is "
        f"`viclip_from_clip(...)` of {display_name(args.clip_model_name_or_path)} with the ViCLIP "
        f"model's frame count and activation. Kept from the ViCLIP model: {excluded} and any tensor the other side "
        f"lacks. {report.summary()}."
    )
    output_name = os.path.basename(os.path.normpath(args.output_dir))
    model_id = usage_model_id(None, args.output_dir)
    return build_model_card(
        model_name=output_name,
        summary=(
            f"A WiSE-FT weight-space ensemble (coefficient {args.coef:g}) of two models: the ViCLIP model "
            f"({display_name(args.viclip_model_name_or_path)}) and the model built from its CLIP initialisation "
            f"({display_name(args.clip_model_name_or_path)}), as the InternVid reference's zero-shot evaluation "
            "option `wiseft` makes it. Written by `python -m viclip_train.eval.wise_ft`."
        ),
        usage=dual_encoder_usage(model_id),
        classification=dual_encoder_classification_section(model_id),
        license=license_id,
        license_note=license_note,
        datasets=[],
        tags=["wise-ft"],
        base_model=base_models or None,
        sections={"WiSE-FT": method},
    )


def main(argv: list[str] | None = None) -> None:
    parser = HfArgumentParser(
        WiseFTArguments, description=__doc__, formatter_class=CommandHelpFormatter, allow_abbrev=False
    )
    (args,) = parse_arguments_with_json(parser, argv)
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    _check_coef(args.coef)
    exclude = [] if [name.lower() for name in args.exclude] == ["none"] else list(args.exclude)

    try:  # both folders checked before any tensor is mixed or anything written
        check_source_folder("--viclip_model_name_or_path", args.viclip_model_name_or_path)
        check_source_folder("--clip_model_name_or_path", args.clip_model_name_or_path)
        viclip_model = load_dual_encoder(args.viclip_model_name_or_path)
        clip_init = clip_initialisation(viclip_model.config, args.clip_model_name_or_path)
    except WiseFTSourceError as error:
        raise SystemExit(f"error: {error}") from error
    report = wise_ft(viclip_model, clip_init, args.coef, exclude)
    logger.info(f"WiSE-FT with coefficient {args.coef:g}: {report.summary()}.")
    if report.shape_mismatch:
        logger.warning(f"Kept as they were (another shape in the CLIP initialisation): {report.shape_mismatch}")

    viclip_model.save_pretrained(args.output_dir)  # weights, config and the remote-code files
    load_processor(args.viclip_model_name_or_path, viclip_model.config).save_pretrained(args.output_dir)
    save_model_card(wise_ft_model_card(args, exclude, report), args.output_dir)
    logger.info(f"Wrote {args.output_dir}.")


if __name__ == "__main__":
    main()
