"""Semantic segmentation of thin, linear defects (cracks) with detectron2.

A genuine detectron2 ``SemanticSegmentor`` (ResNet-18 + FPN backbone, GroupNorm, trained from
scratch) with :class:`~models.semseg.head.CrackSemSegFPNHead`, a registered ``SemSegFPNHead``
variant whose loss is class-weighted cross-entropy plus soft dice. It trains on the project's
engine (:mod:`models.training.engine`) through the preset ``crack_semseg_R18_FPN``. Modules:

- :mod:`models.semseg.config`: the preset's name, its extra config keys, config helpers.
- :mod:`models.semseg.head`: the registered head and the soft dice loss.
- :mod:`models.semseg.plugin`: registers head, mapper ``crack_semantic``, evaluator ``crack_f1``.
- :mod:`models.semseg.data`: images and per-pixel targets of dataset records.
- :mod:`models.semseg.augment`: crack-aware cropping and aerial augmentation (numpy/OpenCV).
- :mod:`models.semseg.mapper`: the dataset mapper built on it.
- :mod:`models.semseg.metrics`: pixel precision/recall/F1 with a distance tolerance.
- :mod:`models.semseg.evaluate`: per-source validation and threshold tuning.
- :mod:`models.semseg.predict`: model files and tiled inference on frames of any size.
- :mod:`models.semseg.train`: resumable training runs (graceful stop), default data specs.
- :mod:`models.semseg.export`: best weights -> fp16 model file with a tuned threshold.
- :mod:`models.semseg.suite`: semantic + instance models run together on frames.
- :mod:`models.semseg.synthetic`: synthetic crack scenes for tests and demos.
"""
