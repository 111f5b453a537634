# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
