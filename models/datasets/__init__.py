"""Labelled data for the defect models: importers, splits, the dataset check, the catalog.

Importers (COCO JSON, labelme, Pascal VOC, mask PNGs, YOLO) all produce a
:class:`~models.datasets.base.LabelledDataset`: Detectron2 dataset dicts plus a declared class
list and the files skipped. :func:`~models.datasets.sources.load_dataset` reads a spec
(``PATH[:SPLIT]`` or a dataset TOML); :func:`~models.datasets.catalog.register` puts a dataset
into Detectron2's ``DatasetCatalog``/``MetadataCatalog``.
"""
