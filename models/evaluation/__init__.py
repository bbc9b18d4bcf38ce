"""Evaluation: COCO box/mask AP, per-class AP, operating-point precision/recall, comparisons."""
