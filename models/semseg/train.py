"""Training of the semantic model: periodic checkpoints, ``resume``, validation, best model.

The run folder holds ``config.yaml`` (the whole recipe), ``recipe.json`` (seed, data lists with
file hashes, versions), detectron2 checkpoints ``model_XXXXXXX.pth`` + ``last_checkpoint``
(the last two kept), ``metrics.jsonl`` (losses, learning rate, validation) and
``model_best.pth`` (a self-contained model file, see :mod:`models.semseg.predict`, of the
iteration with the best mean validation F1, its per-class thresholds tuned on the val splits).

A batch is a pure function of ``(SEED, iteration)``, so a run stopped (SIGTERM/SIGINT, or
``stop_after_s``) and resumed sees the same data as one that never stopped. Training sets are
sampled with weights proportional to the square root of their size, so a small set (UAV75, 17
crops) is not drowned by a large one (189 crops) nor over-fitted.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import platform
import signal
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from models.errors import ModelError
from models.semseg.data import MaskSample
from models.semseg.mapper import SemSegMapper
from models.semseg.metrics import PixelCounts, threshold_sweep

__all__ = ["SWEEP_THRESHOLDS", "evaluate_semseg", "train_semseg", "write_recipe"]

log = logging.getLogger(__name__)

SWEEP_THRESHOLDS = np.round(np.arange(0.05, 0.951, 0.025), 3)


def evaluate_semseg(
    predictor: Any,
    samples: Sequence[MaskSample],
    *,
    tol_px: float = 2.0,
    thresholds: np.ndarray = SWEEP_THRESHOLDS,
    mapper: SemSegMapper | None = None,
) -> dict[str, Any]:
    """Tolerant pixel P/R/F1 of a :class:`~models.semseg.predict.SemSegPredictor` on a split.

    The defect classes are pooled (union mask vs union truth). Returns the counts at the
    predictor's own threshold and the threshold with the best F1 in ``thresholds``.
    """
    mapper = mapper or SemSegMapper(params=None, is_train=False, cache=False)  # type: ignore[arg-type]
    sweep = [PixelCounts()] * len(thresholds)
    at_own = PixelCounts()
    own = float(max(predictor.thresholds))
    for s in samples:
        img, lab = mapper.load(s)
        prob = predictor.probabilities(img).max(axis=0)
        true = (lab > 0) & (lab != 255)
        per_t = threshold_sweep(prob, true, thresholds, tol_px)
        sweep = [a + b for a, b in zip(sweep, per_t, strict=True)]
        at_own = at_own + threshold_sweep(prob, true, np.array([own]), tol_px)[0]
    best = int(np.argmax([c.f1 for c in sweep]))
    b = sweep[best]
    return {
        "images": len(samples),
        "tolerance_px": tol_px,
        "threshold": own,
        "precision": at_own.precision,
        "recall": at_own.recall,
        "f1": at_own.f1,
        "best_threshold": float(thresholds[best]),
        "best_precision": b.precision,
        "best_recall": b.recall,
        "best_f1": b.f1,
        "sweep": {f"{t:.3f}": round(c.f1, 4) for t, c in zip(thresholds, sweep, strict=True)},
    }


def _sha1(path: str) -> str:
    return hashlib.sha1(Path(path).read_bytes()).hexdigest()


def write_recipe(
    out_dir: Path,
    cfg: Any,
    train_sets: Mapping[str, Sequence[MaskSample]],
    val_sets: Mapping[str, Sequence[MaskSample]],
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Write ``recipe.json``: seed, data lists (with SHA-1 of every file), versions."""
    import detectron2
    import torch

    def listing(sets: Mapping[str, Sequence[MaskSample]]) -> dict[str, Any]:
        return {
            name: [
                {
                    "image": s.image_path,
                    "mask": s.mask_path,
                    "mask_min_value": s.mask_min_value,
                    "sha1": _sha1(s.image_path)[:16] + _sha1(s.mask_path)[:16],
                }
                for s in samples
            ]
            for name, samples in sets.items()
        }

    recipe = {
        "seed": int(cfg.SEED),
        "config": "config.yaml",
        "train": listing(train_sets),
        "val": listing(val_sets),
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "detectron2": getattr(detectron2, "__version__", "?"),
            "numpy": np.__version__,
        },
        **dict(extra or {}),
    }
    (out_dir / "recipe.json").write_text(json.dumps(recipe, indent=1), encoding="utf-8")
    return recipe


class _StopFlag:
    """Set by SIGTERM/SIGINT so the loop saves a checkpoint and returns."""

    def __init__(self) -> None:
        self.stop = False
        self._old: dict[int, Any] = {}

    def __enter__(self) -> _StopFlag:
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                self._old[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread: no signal handling
                pass
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        log.warning("signal %d: saving a checkpoint and stopping", signum)
        self.stop = True

    def __exit__(self, *exc: object) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


def train_semseg(
    cfg: Any,
    train_sets: Mapping[str, Sequence[MaskSample]],
    val_sets: Mapping[str, Sequence[MaskSample]],
    out_dir: str | Path,
    *,
    resume: bool = True,
    stop_after_s: float | None = None,
    log_period: int = 20,
    recipe_extra: Mapping[str, Any] | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Train (or resume) the model of ``cfg``; returns the last validation result.

    Parameters
    ----------
    cfg : CfgNode
        From :func:`models.semseg.config.crack_semseg_cfg` (``SOLVER.*``, ``INPUT.*``, ``SEED``).
    train_sets, val_sets : mapping of name -> samples
        Training data (sampled with sqrt-size weights) and validation splits (each evaluated
        every ``TEST.EVAL_PERIOD`` iterations and at the end).
    out_dir : path
        Run folder; with ``resume`` an existing run continues from its last checkpoint.
    stop_after_s : float, optional
        Save a checkpoint and return after this many seconds (time-boxed chunks).
    """
    import torch
    from detectron2.checkpoint import DetectionCheckpointer
    from detectron2.solver import build_lr_scheduler
    from detectron2.utils.events import EventStorage
    from tqdm import tqdm

    from models.semseg.config import build_semseg_model
    from models.semseg.predict import SemSegPredictor, save_model_file

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    samples = [s for v in train_sets.values() for s in v]
    if not samples:
        raise ModelError("no training samples")
    set_w = {k: math.sqrt(len(v)) for k, v in train_sets.items() if v}
    total = sum(set_w.values())
    probs = np.array([set_w[k] / total / len(v) for k, v in train_sets.items() for _ in v])

    cfg_path = out / "config.yaml"
    if resume and cfg_path.is_file() and (out / "last_checkpoint").is_file():
        log.info("resuming %s (its config.yaml is kept)", out)
    else:
        cfg_path.write_text(cfg.dump(), encoding="utf-8")
        write_recipe(out, cfg, train_sets, val_sets, recipe_extra)

    torch.set_num_threads(int(cfg.SOLVER.NUM_THREADS))
    torch.manual_seed(int(cfg.SEED))
    model = build_semseg_model(cfg)
    model.train()
    opt = torch.optim.AdamW(
        model.parameters(),
        lr=float(cfg.SOLVER.BASE_LR),
        weight_decay=float(cfg.SOLVER.WEIGHT_DECAY),
    )
    sched = build_lr_scheduler(cfg, opt)
    ckpt = DetectionCheckpointer(model, str(out), optimizer=opt, scheduler=sched)
    start = ckpt.resume_or_load("", resume=resume).get("iteration", -1) + 1 if resume else 0
    max_iter = int(cfg.SOLVER.MAX_ITER)
    period, eval_period = int(cfg.SOLVER.CHECKPOINT_PERIOD), int(cfg.TEST.EVAL_PERIOD)
    mapper = SemSegMapper.from_cfg(cfg, is_train=True)
    eval_mapper = SemSegMapper(mapper.params, is_train=False)
    clip = float(cfg.SOLVER.CLIP_GRADIENTS.CLIP_VALUE) if cfg.SOLVER.CLIP_GRADIENTS.ENABLED else 0
    metrics_f = (out / "metrics.jsonl").open("a", encoding="utf-8")
    best_path = out / "model_best.pth"
    best_f1 = _best_so_far(out / "metrics.jsonl")
    last_eval: dict[str, Any] = {}

    def save(it: int) -> None:
        ckpt.save(f"model_{it:07d}", iteration=it)
        for old in sorted(out.glob("model_[0-9]*.pth"))[:-2]:
            old.unlink()

    def validate(it: int) -> dict[str, Any]:
        nonlocal best_f1
        model.eval()
        pred = SemSegPredictor(cfg, model)
        res = {n: evaluate_semseg(pred, v, mapper=eval_mapper) for n, v in val_sets.items()}
        model.train()
        mean_f1 = float(np.mean([r["best_f1"] for r in res.values()])) if res else 0.0
        row = {"iter": it, "val": {n: {k: r[k] for k in r if k != "sweep"} for n, r in res.items()}}
        row["mean_best_f1"] = mean_f1
        metrics_f.write(json.dumps(row) + "\n")
        metrics_f.flush()
        log.info("iter %d: val %s", it, {n: round(r["best_f1"], 4) for n, r in res.items()})
        if res and mean_f1 > best_f1:
            best_f1 = mean_f1
            # one threshold for the defect classes: the one best over the pooled val splits
            thr = _pooled_best_threshold(res)
            meta = {"iteration": it, "val": row["val"], "thresholds": [thr] * len(pred.class_names)}
            save_model_file(best_path, cfg, model.state_dict(), meta, half=False)
        return row

    t0 = time.monotonic()
    it = start
    with EventStorage(start) as storage, _StopFlag() as flag:
        bar = tqdm(
            total=max_iter, initial=start, disable=not progress, mininterval=30, desc="train"
        )
        for it in range(start, max_iter):
            rng = np.random.default_rng([int(cfg.SEED), it])
            idx = rng.choice(len(samples), size=int(cfg.SOLVER.IMS_PER_BATCH), p=probs)
            batch = [mapper(samples[i], rng) for i in idx]
            storage.iter = it
            losses = model(batch)
            loss = sum(losses.values())
            if not torch.isfinite(loss):
                raise ModelError(f"loss is {float(loss)} at iteration {it}; lower SOLVER.BASE_LR")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
            opt.step()
            sched.step()
            bar.update(1)
            if (it + 1) % log_period == 0:
                row = {k: round(float(v.detach()), 5) for k, v in losses.items()}
                row.update(
                    iter=it, lr=opt.param_groups[0]["lr"], t_s=round(time.monotonic() - t0, 1)
                )
                metrics_f.write(json.dumps(row) + "\n")
                metrics_f.flush()
            if (it + 1) % period == 0 or it + 1 == max_iter:
                save(it)
            if eval_period > 0 and ((it + 1) % eval_period == 0) and it + 1 < max_iter:
                last_eval = validate(it)
            timed_out = stop_after_s is not None and time.monotonic() - t0 > stop_after_s
            if flag.stop or timed_out:
                if (it + 1) % period != 0:
                    save(it)
                log.info("stopped at iteration %d; continue with resume", it)
                bar.close()
                metrics_f.close()
                return {"stopped_at": it, **last_eval}
        bar.close()
    if start < max_iter or not best_path.is_file():
        last_eval = validate(max_iter - 1)
    metrics_f.close()
    return last_eval


def _pooled_best_threshold(res: Mapping[str, Mapping[str, Any]]) -> float:
    """The sweep threshold with the best mean F1 over all val splits."""
    keys = list(next(iter(res.values()))["sweep"])
    mean = [np.mean([r["sweep"][k] for r in res.values()]) for k in keys]
    return float(keys[int(np.argmax(mean))])


def _best_so_far(metrics_path: Path) -> float:
    if not metrics_path.is_file():
        return -1.0
    best = -1.0
    for line in metrics_path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut by a kill; the next ones are fine
        best = max(best, float(row.get("mean_best_f1", -1.0)))
    return best
