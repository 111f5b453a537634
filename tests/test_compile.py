"""`torch.compile` takes the towers whole: no graph break in the video tower (masked and unmasked) or the text tower,
so `--torch_compile` compiles every layer of a training step into one graph per tower."""

import pytest
import torch

from viclip import ViCLIPConfig, ViCLIPModel

from .conftest import tiny_config_kwargs


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return ViCLIPModel(ViCLIPConfig(**tiny_config_kwargs())).train()


@pytest.mark.parametrize("mask_ratio", [0.0, 0.5])
def test_the_video_tower_compiles_into_one_graph(model, mask_ratio):
    torch._dynamo.reset()
    pixel_values = torch.randn(2, 4, 3, 32, 32)
    compiled = torch.compile(model.vision_model, fullgraph=True)
    torch.manual_seed(1)
    # compiled code draws random numbers its own way; eager's draws make the two masks comparable
    with torch._inductor.config.patch(fallback_random=True):
        output = compiled(pixel_values=pixel_values, mask_ratio=mask_ratio).pooler_output
    torch.manual_seed(1)
    expected = model.vision_model(pixel_values=pixel_values, mask_ratio=mask_ratio).pooler_output
    torch.testing.assert_close(output, expected, rtol=1e-4, atol=1e-5)


def test_the_text_tower_compiles_into_one_graph(model):
    torch._dynamo.reset()
    input_ids = torch.tensor([[49406, 320, 49407, 0], [49406, 321, 322, 49407]])
    attention_mask = (input_ids > 0).long()
    compiled = torch.compile(model.text_model, fullgraph=True)
    output = compiled(input_ids=input_ids, attention_mask=attention_mask).pooler_output
    expected = model.text_model(input_ids=input_ids, attention_mask=attention_mask).pooler_output
    torch.testing.assert_close(output, expected, rtol=1e-4, atol=1e-5)
