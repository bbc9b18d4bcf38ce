"""A quick check that genuine detectron2 works here: build a model-zoo Mask R-CNN, run it once."""

from __future__ import annotations

from models.errors import ModelError

__all__ = ["build_check_model"]


def build_check_model(height: int = 128, width: int = 160) -> str:
    """Build Mask R-CNN R50-FPN from the detectron2 model zoo (random weights, CPU), run one image.

    Returns a one-line summary. Raises :class:`models.errors.ModelError` when detectron2 is missing.
    """
    try:
        import torch
        from detectron2 import model_zoo
        from detectron2.config import get_cfg
        from detectron2.modeling import build_model
    except ImportError as exc:
        raise ModelError(
            f"detectron2 is not importable ({exc}); run scripts/install_detectron2.py"
        ) from exc
    cfg = get_cfg()
    cfg.merge_from_file(
        model_zoo.get_config_file("COCO-InstanceSegmentation/mask_rcnn_R_50_FPN_3x.yaml")
    )
    cfg.MODEL.DEVICE, cfg.MODEL.WEIGHTS, cfg.MODEL.RESNETS.NORM = "cpu", "", "BN"
    model = build_model(cfg).eval()
    with torch.no_grad():
        out = model([{"image": torch.zeros(3, height, width), "height": height, "width": width}])
    n_params = sum(p.numel() for p in model.parameters()) / 1e6
    return (
        f"Mask R-CNN R50-FPN built from the model zoo ({n_params:.1f} M parameters) and run on a "
        f"{width}x{height} image on the CPU: {len(out[0]['instances'])} detections (random weights)"
    )
