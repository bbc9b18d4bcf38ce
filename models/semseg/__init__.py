"""Semantic segmentation of thin, linear defects (cracks) with detectron2.

A genuine detectron2 ``SemanticSegmentor`` (ResNet + FPN backbone, GroupNorm, trained from
scratch) with :class:`~models.semseg.head.CrackSemSegFPNHead`, a registered ``SemSegFPNHead``
variant whose loss is class-weighted cross-entropy plus soft dice. Modules:

- :mod:`models.semseg.config`: the preset (``crack_semseg_cfg``) and its recipe keys.
- :mod:`models.semseg.head`: the registered head.
- :mod:`models.semseg.data`: image/mask datasets (list files, folder pairs) and mask decoding.
- :mod:`models.semseg.augment`: crack-aware cropping and aerial augmentation (numpy/OpenCV).
- :mod:`models.semseg.mapper`: the detectron2 dataset mapper built on it.
- :mod:`models.semseg.metrics`: pixel precision/recall/F1 with a distance tolerance.
- :mod:`models.semseg.predict`: tiled inference on frames of any size.
- :mod:`models.semseg.train`: training with periodic checkpoints, ``resume`` and validation.
"""
