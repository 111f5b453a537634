# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""`python -m viclip_train.score`: see `viclip_train/score/command.py`."""

from viclip_train.score.command import main


if __name__ == "__main__":
    main()
