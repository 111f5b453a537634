# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""Converts a released ViCLIP checkpoint (OpenGVLab/InternVideo `.pth`) into a complete transformers folder.

```bash
python -m viclip_train.convert --checkpoint ViClip-InternVid-10M-FLT.pth --output_dir viclip-l14
```

The folder gets the weights (`model.safetensors`) and `config.json` of a [`ViCLIPModel`], the processor and
tokenizer files, and a model card (`README.md`); `--push_to_hub REPO_ID` uploads it.

The reading, checking and renaming live in `original_weights.py`, which `from_pretrained` also uses (after
`import viclip`) to load the released layouts directly. The checkpoint is unpickled with
`torch.load(weights_only=True)`: only tensors and plain containers are accepted, plus the one class the released files
pickle besides them, `utils.easydict.EasyDict` (their training config), which is read as a plain `dict`. Anything else
is refused before it can run. NaN or infinite weights are refused too; a temperature `temp` <= 0 is converted as
0.01, the value the reference clamps it to (with a warning).
"""

import argparse
from pathlib import Path

from transformers.initialization import no_init_weights
from transformers.utils import logging

from viclip.modeling_viclip import ViCLIPModel
from viclip.processing_viclip import ViCLIPProcessor

from ..hub import HubAccessError, check_hub_write_access, publish_folder
from ..model_card import (
    TRAINING_DATA,
    build_converted_model_card,
    guess_training_data,
    save_model_card,
    usage_model_id,
)
from .original_weights import (
    SIZE_TITLES,
    SIZES,
    ConversionError,
    UnknownHeadsError,
    check_against_model,
    check_values,
    convert_state_dict,
    infer_config,
    load_original_state_dict,
)


logger = logging.get_logger(__name__)


def convert_checkpoint(
    checkpoint_path: str | Path,
    output_dir: str | Path,
    size: str | None = None,
    push_to_hub: str | None = None,
    *,
    vision_heads: int | None = None,
    text_heads: int | None = None,
    training_data: str | None = None,
) -> ViCLIPModel:
    """
    Converts a released ViCLIP checkpoint into a transformers folder: weights, config, processor, tokenizer and
    model card.

    Args:
        checkpoint_path: the original `.pth` file.
        output_dir: the folder to write (created if needed).
        size: `"b16"` or `"l14"`; inferred from the tensor shapes when `None`.
        push_to_hub: a Hub repository id to upload the folder to (created if needed).
        vision_heads / text_heads: attention heads, for checkpoints that are not of a released size.
        training_data: one of `TRAINING_DATA`, for the model card; guessed from the file name when `None`.

    Returns:
        The converted [`ViCLIPModel`], in eval mode.
    """
    checkpoint_path, output_dir = Path(checkpoint_path), Path(output_dir)
    if training_data is not None and training_data not in TRAINING_DATA:
        raise ConversionError(f"Unknown training data {training_data!r}; choose one of {list(TRAINING_DATA)}.")
    if push_to_hub:
        check_hub_write_access(push_to_hub)  # before any work: fails in one line without a token that can write
    state_dict = load_original_state_dict(checkpoint_path)
    check_values(state_dict, checkpoint_path)
    config, preset = infer_config(state_dict, size, vision_heads, text_heads)

    with no_init_weights():  # every weight is overwritten below
        model = ViCLIPModel(config)
    converted, origins = convert_state_dict(state_dict)
    expected = model.state_dict()
    check_against_model(checkpoint_path, converted, origins, expected, SIZE_TITLES.get(preset, "ViCLIP"))
    model.load_state_dict(converted, strict=True)
    model.eval()
    logger.info(f"Converted {len(converted)} tensors ({model.num_parameters() / 1e6:.2f}M parameters)")

    if output_dir.is_dir() and any(output_dir.iterdir()):
        logger.warning(f"{output_dir} is not empty: files this conversion does not write are kept (and uploaded).")
    output_dir.mkdir(parents=True, exist_ok=True)
    # The saved model names the zero-shot pipeline in `config.json` and ships its code, so that
    # `pipeline("zero-shot-video-classification", model=output_dir, trust_remote_code=True)` works too.
    model.save_pretrained(output_dir)
    ViCLIPProcessor.from_model_config(config).save_pretrained(output_dir)
    if training_data is None:
        training_data = guess_training_data(checkpoint_path)
        if training_data:
            logger.info(f"Training data: {training_data} (read from the file name; --training_data sets it)")
    model_id = usage_model_id(push_to_hub, output_dir)
    card = build_converted_model_card(checkpoint_path, config, preset, training_data, model_id)
    save_model_card(card, output_dir)
    logger.info(f"Wrote {sorted(path.name for path in output_dir.iterdir())} to {output_dir}")

    if push_to_hub:
        commit_url = publish_folder(
            output_dir, push_to_hub, commit_message=f"Convert {checkpoint_path.name} from the original ViCLIP release"
        )
        logger.info(f"Uploaded {output_dir} to {commit_url}")
    return model


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m viclip_train.convert",
        description="Convert a released ViCLIP checkpoint (.pth) into a transformers folder with weights, config, "
        "processor, tokenizer and model card.",
        allow_abbrev=False,
    )
    parser.add_argument("--checkpoint", required=True, type=Path, help="The original checkpoint file (.pth).")
    parser.add_argument("--output_dir", required=True, type=Path, help="Folder to write the converted model to.")
    parser.add_argument(
        "--size",
        choices=sorted(SIZES),
        help="Released size to require (ViT-B/16 or ViT-L/14). Default: inferred from the tensor shapes.",
    )
    parser.add_argument(
        "--vision_heads",
        type=int,
        help="Attention heads of the video tower; shapes cannot reveal them. Default: the released size's value. "
        "A checkpoint of another size needs both --vision_heads and --text_heads, or neither (then width / 64 for "
        "both, as in the original code).",
    )
    parser.add_argument(
        "--text_heads",
        type=int,
        help="Attention heads of the text tower. Default: the released size's value; see --vision_heads.",
    )
    parser.add_argument(
        "--training_data",
        choices=TRAINING_DATA,
        help="Training set of the checkpoint, for the model card (title, dataset, and which published results "
        "apply). Default: read from the released file name, e.g. ViClip-InternVid-10M-FLT.pth.",
    )
    parser.add_argument(
        "--push_to_hub",
        metavar="REPO_ID",
        help="Also upload the converted folder to this Hub model repository (created if it does not exist).",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.set_verbosity_info()
    try:
        convert_checkpoint(
            args.checkpoint,
            args.output_dir,
            size=args.size,
            push_to_hub=args.push_to_hub,
            vision_heads=args.vision_heads,
            text_heads=args.text_heads,
            training_data=args.training_data,
        )
    except UnknownHeadsError as error:
        raise SystemExit(f"error: {error} Pass --vision_heads and --text_heads.") from error
    except (ConversionError, FileNotFoundError, HubAccessError) as error:  # the message says it all
        raise SystemExit(f"error: {error}") from error


__all__ = ["convert_checkpoint", "main", "parse_args"]


if __name__ == "__main__":
    main()
