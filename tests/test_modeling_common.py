"""transformers' own common test suites (`ModelTesterMixin`, `ConfigTester`) applied to every ViCLIP model class, with
tiny testers modelled on those of CLIP and X-CLIP in transformers' tests.

The suites come from the installed transformers release (see `tests/common_suites.py`). Every skip below is one that
CLIP's own tests make, or says why it does not apply to ViCLIP.
"""

import unittest
import warnings

import numpy as np
import pytest
import torch
from parameterized import parameterized

from viclip import (
    ViCLIPConfig,
    ViCLIPForVideoClassification,
    ViCLIPModel,
    ViCLIPTextConfig,
    ViCLIPTextModel,
    ViCLIPTextModelWithProjection,
    ViCLIPVisionConfig,
    ViCLIPVisionModel,
    ViCLIPVisionModelWithProjection,
)

from .common_suites import import_common_suite


with warnings.catch_warnings():  # the suites use transformers' own pytest marks (flash_attn_test, ...)
    warnings.simplefilter("ignore", pytest.PytestUnknownMarkWarning)
    test_modeling_common = import_common_suite("test_modeling_common")
    test_configuration_common = import_common_suite("test_configuration_common")
ModelTesterMixin = test_modeling_common.ModelTesterMixin
ConfigTester = test_configuration_common.ConfigTester
floats_tensor = test_modeling_common.floats_tensor
ids_tensor = test_modeling_common.ids_tensor
random_attention_mask = test_modeling_common.random_attention_mask
_config_zero_init = test_modeling_common._config_zero_init
EAGER_MATCHES_SDPA_CASES = test_modeling_common.TEST_EAGER_MATCHES_SDPA_INFERENCE_PARAMETERIZATION


class SlowEagerMatchesSdpaMixin:
    """
    CLIP's tests run the 24 cases of `test_eager_matches_sdpa_inference` on the vision tower and mark them slow for the
    text tower, the dual encoder and the classifier; so do these (`python -m pytest -m slow` runs them). The dual
    encoder's eager and sdpa outputs are also compared in `test_modeling.py`.
    """

    @parameterized.expand(EAGER_MATCHES_SDPA_CASES)
    @pytest.mark.slow
    def test_eager_matches_sdpa_inference(self, *args):
        test_modeling_common._test_eager_matches_sdpa_inference(self, *args)


class ViCLIPVisionModelTester:
    """Tiny video tower: 2 frames of 16x16 in 8x8 patches, so `1 + 2 * 4 = 9` tokens attend jointly."""

    def __init__(
        self,
        parent,
        batch_size=3,
        num_frames=2,
        image_size=16,
        patch_size=8,
        num_channels=3,
        is_training=True,
        hidden_size=32,
        projection_dim=24,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=37,
        attention_dropout=0.1,
        initializer_range=0.02,
    ):
        self.parent = parent
        self.batch_size = batch_size
        self.num_frames = num_frames
        self.image_size = image_size
        self.patch_size = patch_size
        self.num_channels = num_channels
        self.is_training = is_training
        self.hidden_size = hidden_size
        self.projection_dim = projection_dim
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.intermediate_size = intermediate_size
        self.attention_dropout = attention_dropout
        self.initializer_range = initializer_range
        # the class token, then every patch of every frame
        self.seq_length = 1 + num_frames * (image_size // patch_size) ** 2

    def get_config(self) -> ViCLIPVisionConfig:
        return ViCLIPVisionConfig(
            image_size=self.image_size,
            patch_size=self.patch_size,
            num_frames=self.num_frames,
            num_channels=self.num_channels,
            hidden_size=self.hidden_size,
            projection_dim=self.projection_dim,
            num_hidden_layers=self.num_hidden_layers,
            num_attention_heads=self.num_attention_heads,
            intermediate_size=self.intermediate_size,
            attention_dropout=self.attention_dropout,
            initializer_range=self.initializer_range,
        )

    def prepare_config_and_inputs(self):
        pixel_values = floats_tensor(
            [self.batch_size, self.num_frames, self.num_channels, self.image_size, self.image_size]
        )
        return self.get_config(), pixel_values

    def prepare_config_and_inputs_for_common(self):
        config, pixel_values = self.prepare_config_and_inputs()
        return config, {"pixel_values": pixel_values}

    def create_and_check_model(self, config, pixel_values):
        model = ViCLIPVisionModel(config).eval()
        with torch.no_grad():
            result = model(pixel_values)
        self.parent.assertEqual(result.last_hidden_state.shape, (self.batch_size, self.seq_length, self.hidden_size))
        self.parent.assertEqual(result.pooler_output.shape, (self.batch_size, self.hidden_size))

    def create_and_check_model_with_projection(self, config, pixel_values):
        model = ViCLIPVisionModelWithProjection(config).eval()
        with torch.no_grad():
            result = model(pixel_values)
        self.parent.assertEqual(result.last_hidden_state.shape, (self.batch_size, self.seq_length, self.hidden_size))
        self.parent.assertEqual(result.video_embeds.shape, (self.batch_size, self.projection_dim))


class ViCLIPTextModelTester:
    """Tiny text tower over a 99-token vocabulary; the end token (the largest id, 98) ends every caption."""

    def __init__(
        self,
        parent,
        batch_size=3,
        seq_length=7,
        is_training=True,
        use_input_mask=True,
        vocab_size=99,
        hidden_size=32,
        projection_dim=24,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=37,
        attention_dropout=0.1,
        max_position_embeddings=32,
        initializer_range=0.02,
    ):
        self.parent = parent
        self.batch_size = batch_size
        self.seq_length = seq_length
        self.is_training = is_training
        self.use_input_mask = use_input_mask
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.projection_dim = projection_dim
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.intermediate_size = intermediate_size
        self.attention_dropout = attention_dropout
        self.max_position_embeddings = max_position_embeddings
        self.initializer_range = initializer_range

    def get_config(self) -> ViCLIPTextConfig:
        return ViCLIPTextConfig(
            vocab_size=self.vocab_size,
            hidden_size=self.hidden_size,
            projection_dim=self.projection_dim,
            num_hidden_layers=self.num_hidden_layers,
            num_attention_heads=self.num_attention_heads,
            intermediate_size=self.intermediate_size,
            attention_dropout=self.attention_dropout,
            max_position_embeddings=self.max_position_embeddings,
            initializer_range=self.initializer_range,
            pad_token_id=0,
            bos_token_id=self.vocab_size - 2,
            eos_token_id=self.vocab_size - 1,
        )

    def prepare_config_and_inputs(self):
        input_ids = ids_tensor([self.batch_size, self.seq_length], self.vocab_size - 2)
        input_mask = None
        if self.use_input_mask:
            # real tokens first, then padding, as the tokenizer pads (CLIP's tester does the same)
            input_mask = random_attention_mask([self.batch_size, self.seq_length])
            starts = np.random.randint(1, self.seq_length - 1, size=(self.batch_size,))
            for row, start in enumerate(starts):
                input_mask[row, :start] = 1
                input_mask[row, start:] = 0
                input_ids[row, start - 1] = self.vocab_size - 1  # the end token, where the caption is pooled
        return self.get_config(), input_ids, input_mask

    def prepare_config_and_inputs_for_common(self):
        config, input_ids, input_mask = self.prepare_config_and_inputs()
        return config, {"input_ids": input_ids, "attention_mask": input_mask}

    def create_and_check_model(self, config, input_ids, input_mask):
        model = ViCLIPTextModel(config).eval()
        with torch.no_grad():
            model(input_ids, attention_mask=input_mask)
            result = model(input_ids)
        self.parent.assertEqual(result.last_hidden_state.shape, (self.batch_size, self.seq_length, self.hidden_size))
        self.parent.assertEqual(result.pooler_output.shape, (self.batch_size, self.hidden_size))

    def create_and_check_model_with_projection(self, config, input_ids, input_mask):
        model = ViCLIPTextModelWithProjection(config).eval()
        with torch.no_grad():
            model(input_ids, attention_mask=input_mask)
            result = model(input_ids)
        self.parent.assertEqual(result.last_hidden_state.shape, (self.batch_size, self.seq_length, self.hidden_size))
        self.parent.assertEqual(result.text_embeds.shape, (self.batch_size, self.projection_dim))


class ViCLIPModelTester:
    """The dual encoder over the two tiny towers; videos and captions come in pairs (row `i` describes video `i`)."""

    def __init__(self, parent, is_training=True):
        self.parent = parent
        self.text_model_tester = ViCLIPTextModelTester(parent)
        self.vision_model_tester = ViCLIPVisionModelTester(parent)
        self.video_model_tester = self.vision_model_tester  # what the common `get_video_features` tests look for
        self.batch_size = self.text_model_tester.batch_size
        self.projection_dim = 24
        self.is_training = is_training

    def get_config(self) -> ViCLIPConfig:
        return ViCLIPConfig(
            text_config=self.text_model_tester.get_config().to_dict(),
            vision_config=self.vision_model_tester.get_config().to_dict(),
            projection_dim=self.projection_dim,
        )

    def prepare_config_and_inputs(self):
        _, input_ids, attention_mask = self.text_model_tester.prepare_config_and_inputs()
        _, pixel_values = self.vision_model_tester.prepare_config_and_inputs()
        return self.get_config(), input_ids, attention_mask, pixel_values

    def prepare_config_and_inputs_for_common(self):
        config, input_ids, attention_mask, pixel_values = self.prepare_config_and_inputs()
        inputs = {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "pixel_values": pixel_values,
            "return_loss": True,
        }
        return config, inputs

    def create_and_check_model(self, config, input_ids, attention_mask, pixel_values):
        model = ViCLIPModel(config).eval()
        with torch.no_grad():
            result = model(input_ids, pixel_values, attention_mask)
        videos, texts = self.vision_model_tester.batch_size, self.text_model_tester.batch_size
        self.parent.assertEqual(result.logits_per_video.shape, (videos, texts))
        self.parent.assertEqual(result.logits_per_text.shape, (texts, videos))


class ViCLIPForVideoClassificationModelTester(ViCLIPModelTester):
    """The classifier over the tiny video tower: 3 classes."""

    def __init__(self, parent):
        super().__init__(parent)
        self.batch_size = self.vision_model_tester.batch_size
        self.num_hidden_layers = self.vision_model_tester.num_hidden_layers
        self.hidden_size = self.vision_model_tester.hidden_size
        self.seq_length = self.vision_model_tester.seq_length
        self.num_attention_heads = self.vision_model_tester.num_attention_heads
        self.num_labels = 3

    def get_config(self) -> ViCLIPConfig:
        config = super().get_config()
        config.num_labels = self.num_labels
        return config

    def prepare_config_and_inputs_for_common(self):
        _, pixel_values = self.vision_model_tester.prepare_config_and_inputs()
        labels = ids_tensor([self.batch_size], self.num_labels)
        return self.get_config(), {"pixel_values": pixel_values, "labels": labels}


class ViCLIPVisionModelTest(ModelTesterMixin, unittest.TestCase):
    """The video towers: `ViCLIPVisionModel` and `ViCLIPVisionModelWithProjection`."""

    all_model_classes = (ViCLIPVisionModel, ViCLIPVisionModelWithProjection)
    test_resize_embeddings = False

    def setUp(self):
        self.model_tester = ViCLIPVisionModelTester(self)
        # hidden_size 48, not CLIP's 37: ViCLIP configs refuse a width that the default heads (12) do not divide
        self.config_tester = ConfigTester(
            self, config_class=ViCLIPVisionConfig, has_text_modality=False, hidden_size=48
        )

    def test_config(self):
        self.config_tester.run_common_tests()

    @unittest.skip(reason="The video tower takes pixel_values only, no inputs_embeds (as CLIP's vision tower)")
    def test_inputs_embeds(self):
        pass

    def test_model(self):
        self.model_tester.create_and_check_model(*self.model_tester.prepare_config_and_inputs())

    def test_model_with_projection(self):
        self.model_tester.create_and_check_model_with_projection(*self.model_tester.prepare_config_and_inputs())

    @unittest.skip(reason="The towers return no loss: training is tested on ViCLIPModel (CLIP's tests skip it too)")
    def test_training(self):
        pass

    @unittest.skip(reason="The towers return no loss: training is tested on ViCLIPModel (CLIP's tests skip it too)")
    def test_training_gradient_checkpointing(self):
        pass

    @unittest.skip(reason="The towers return no loss: training is tested on ViCLIPModel (CLIP's tests skip it too)")
    def test_training_gradient_checkpointing_use_reentrant_false(self):
        pass

    @unittest.skip(reason="The towers return no loss: training is tested on ViCLIPModel (CLIP's tests skip it too)")
    def test_training_gradient_checkpointing_use_reentrant_true(self):
        pass

    def test_model_get_set_embeddings(self):
        config, _ = self.model_tester.prepare_config_and_inputs_for_common()
        for model_class in self.all_model_classes:
            model = model_class(config)
            self.assertIsInstance(model.get_input_embeddings(), torch.nn.Module)
            output_embeddings = model.get_output_embeddings()
            self.assertTrue(output_embeddings is None or isinstance(output_embeddings, torch.nn.Linear))

    def test_forward_signature(self):
        import inspect

        config, _ = self.model_tester.prepare_config_and_inputs_for_common()
        for model_class in self.all_model_classes:
            arg_names = list(inspect.signature(model_class(config).forward).parameters)
            self.assertListEqual(arg_names[:1], ["pixel_values"])


class ViCLIPTextModelTest(SlowEagerMatchesSdpaMixin, ModelTesterMixin, unittest.TestCase):
    """The text towers: `ViCLIPTextModel` and `ViCLIPTextModelWithProjection`."""

    all_model_classes = (ViCLIPTextModel, ViCLIPTextModelWithProjection)
    model_split_percents = [0.5, 0.8, 0.9]

    def setUp(self):
        self.model_tester = ViCLIPTextModelTester(self)
        # hidden_size 48, not CLIP's 37: ViCLIP configs refuse a width that the default heads (8) do not divide
        self.config_tester = ConfigTester(self, config_class=ViCLIPTextConfig, hidden_size=48)

    def test_config(self):
        self.config_tester.run_common_tests()

    def test_model(self):
        self.model_tester.create_and_check_model(*self.model_tester.prepare_config_and_inputs())

    def test_model_with_projection(self):
        self.model_tester.create_and_check_model_with_projection(*self.model_tester.prepare_config_and_inputs())

    @unittest.skip(reason="The towers return no loss: training is tested on ViCLIPModel (CLIP's tests skip it too)")
    def test_training(self):
        pass

    @unittest.skip(reason="The towers return no loss: training is tested on ViCLIPModel (CLIP's tests skip it too)")
    def test_training_gradient_checkpointing(self):
        pass

    @unittest.skip(reason="The towers return no loss: training is tested on ViCLIPModel (CLIP's tests skip it too)")
    def test_training_gradient_checkpointing_use_reentrant_false(self):
        pass

    @unittest.skip(reason="The towers return no loss: training is tested on ViCLIPModel (CLIP's tests skip it too)")
    def test_training_gradient_checkpointing_use_reentrant_true(self):
        pass

    @unittest.skip(reason="The text tower takes input_ids only, no inputs_embeds: it pools at the largest id (CLIP)")
    def test_inputs_embeds(self):
        pass


class ViCLIPModelTest(SlowEagerMatchesSdpaMixin, ModelTesterMixin, unittest.TestCase):
    """The dual encoder `ViCLIPModel`."""

    all_model_classes = (ViCLIPModel,)
    additional_model_inputs = ["pixel_values"]
    test_resize_embeddings = False
    _is_composite = True

    def setUp(self):
        self.model_tester = ViCLIPModelTester(self)
        self.config_tester = ConfigTester(
            self,
            config_class=ViCLIPConfig,
            has_text_modality=False,
            common_properties=["projection_dim", "logit_scale_init_value"],
        )

    def test_config(self):
        self.config_tester.run_common_tests()

    def test_model(self):
        self.model_tester.create_and_check_model(*self.model_tester.prepare_config_and_inputs())

    @unittest.skip(reason="Hidden states are tested in the towers' tests (as CLIP's)")
    def test_hidden_states_output(self):
        pass

    @unittest.skip(reason="ViCLIPOutput has no `attentions`: attentions are tested in the towers' tests (as CLIP's)")
    def test_attention_outputs(self):
        pass

    @unittest.skip(reason="inputs_embeds are tested in the towers' tests (as CLIP's)")
    def test_inputs_embeds(self):
        pass

    @unittest.skip(reason="Retaining gradients of hidden states is tested in the towers' tests (as CLIP's)")
    def test_retain_grad_hidden_states_attentions(self):
        pass

    def test_reverse_loading_mapping(self):
        """The dual encoder's one conversion reshapes a 0-d `logit_scale` and renames no key."""
        super().test_reverse_loading_mapping(check_keys_were_modified=False)

    def test_initialization(self):
        """`logit_scale` starts at ln 100 (the reference's temperature 0.01); the rest as in the common test."""
        config, _ = self.model_tester.prepare_config_and_inputs_for_common()
        configs_no_init = _config_zero_init(config)
        for model_class in self.all_model_classes:
            model = model_class(config=configs_no_init)
            for name, param in model.named_parameters():
                if not param.requires_grad:
                    continue
                if name == "logit_scale":
                    self.assertAlmostEqual(param.item(), np.log(100.0), delta=1e-3, msg=name)
                else:
                    self.assertIn(((param.data.mean() * 1e9).round() / 1e9).item(), [0.0, 1.0], msg=name)

    def test_load_vision_text_config(self):
        import tempfile

        config, _ = self.model_tester.prepare_config_and_inputs_for_common()
        with tempfile.TemporaryDirectory() as folder:
            config.save_pretrained(folder)
            vision_config = ViCLIPVisionConfig.from_pretrained(folder)
            text_config = ViCLIPTextConfig.from_pretrained(folder)
        self.assertDictEqual(config.vision_config.to_dict(), vision_config.to_dict())
        self.assertDictEqual(config.text_config.to_dict(), text_config.to_dict())


class ViCLIPForVideoClassificationModelTest(SlowEagerMatchesSdpaMixin, ModelTesterMixin, unittest.TestCase):
    """The classifier `ViCLIPForVideoClassification`."""

    all_model_classes = (ViCLIPForVideoClassification,)
    test_resize_embeddings = False
    _is_composite = True

    def setUp(self):
        self.model_tester = ViCLIPForVideoClassificationModelTester(self)

    @unittest.skip(reason="The classifier takes pixel_values only, no inputs_embeds (as CLIPForImageClassification)")
    def test_inputs_embeds(self):
        pass

    def test_model_get_set_embeddings(self):
        """The video tower's patch embedding is the input embedding (accelerate's FSDP2 preparation asks for it)."""
        config, _ = self.model_tester.prepare_config_and_inputs_for_common()
        model = ViCLIPForVideoClassification(config)
        self.assertIs(model.get_input_embeddings(), model.vision_model.embeddings.patch_embedding)
        self.assertIsNone(model.get_output_embeddings())


pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")
