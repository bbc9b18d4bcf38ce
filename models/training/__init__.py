"""Training: the engine (any Detectron2 meta-architecture from a preset), mappers, hooks."""
