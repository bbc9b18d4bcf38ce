"""The stage runner of ``survey process``: resumable stages that skip when nothing changed.

A :class:`Stage` is a named function that writes files into its own folder
``RUN_DIR/stages/<name>/``. The runner gives it a :class:`StageContext` (the run, the config,
the parameters, its upstream stages' folders, a progress bar, per-item checkpoints) and records a
manifest ``RUN_DIR/stages/<name>/stage.json`` when it finishes. The manifest holds the stage's
**fingerprint**: a hash of the stage's code version, its declared config sections, its
parameters, the fingerprints of its external input files and of its upstream stages' outputs.
On a re-run a stage is skipped when its manifest's fingerprint is unchanged and its outputs are
still there as recorded; ``rerun_from`` forces a stage and all after it.

Interruption: a stage runs in ``stages/<name>.partial/`` and becomes ``stages/<name>/`` only
when it succeeds, so finished stages are never lost. Work inside a long stage survives too:
:meth:`StageContext.map` saves each item's result in the partial folder as it finishes, and a
resumed run with the same fingerprint loads those instead of recomputing them.

The resolved config is saved as ``RUN_DIR/config.toml`` and the run's history in
``RUN_DIR/run.json``.

Examples
--------
>>> import tempfile, pathlib
>>> def count(ctx):
...     (ctx.out / "n.txt").write_text(str(len(ctx.params["items"])))
>>> pipe = Pipeline([Stage("count", count, params=("items",))])
>>> run = pathlib.Path(tempfile.mkdtemp())
>>> [r.status for r in pipe.run(run, params={"items": [1, 2]}, progress=False)]
['ran']
>>> [r.status for r in pipe.run(run, params={"items": [1, 2]}, progress=False)]
['skipped']
>>> [r.status for r in pipe.run(run, params={"items": [1, 2, 3]}, progress=False)]
['ran']
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from survey.config import Config, to_toml
from survey.errors import SurveyError
from survey.pipeline.fingerprint import fingerprint_files, fingerprint_tree, hash_json

__all__ = ["Pipeline", "PipelineError", "Stage", "StageContext", "StageResult"]

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")
MANIFEST = "stage.json"


class PipelineError(SurveyError, RuntimeError):
    """A pipeline is ill-formed, or a stage failed (the message names the stage)."""


@dataclass(frozen=True)
class Stage:
    """One step of a pipeline.

    Parameters
    ----------
    name : str
        Folder name and ``--rerun-from`` name (letters, digits, ``_``, ``-``).
    fn : callable
        ``fn(ctx: StageContext) -> None``; writes its outputs under ``ctx.out``.
    after : tuple of str
        Upstream stages whose outputs it reads (``ctx.input(name)``); they must come earlier.
    config : tuple of str
        Config sections (``"detect"``, ``"telemetry"``) whose values affect its output.
    params : tuple of str
        Keys of the run parameters whose values affect its output (JSON-serialisable).
    inputs : callable, optional
        ``inputs(params) -> list of paths``: external files it reads (media, logs, geometry);
        their fingerprints join the stage's.
    version : str
        Bump when the stage's code changes its output, to invalidate old results.
    """

    name: str
    fn: Callable[[StageContext], Any]
    after: tuple[str, ...] = ()
    config: tuple[str, ...] = ()
    params: tuple[str, ...] = ()
    inputs: Callable[[dict[str, Any]], Sequence[str | Path]] | None = None
    version: str = "1"


@dataclass(frozen=True)
class StageResult:
    """What happened to one stage in one run."""

    name: str
    status: str  # "ran", "skipped", "failed", "not_run"
    fingerprint: str = ""
    seconds: float = 0.0
    resumed_items: int = 0
    error: str = ""


@dataclass
class StageContext:
    """What a running stage sees."""

    stage: Stage
    run_dir: Path
    out: Path
    config: Config
    params: dict[str, Any]
    show_progress: bool = True
    resumed_items: int = field(default=0, init=False)

    @property
    def log(self) -> logging.Logger:
        """The stage's logger (``survey.pipeline.stage.<name>``)."""
        return logging.getLogger(f"survey.pipeline.stage.{self.stage.name}")

    def input(self, name: str) -> Path:
        """The output folder of upstream stage ``name`` (declared in ``after``)."""
        if name not in self.stage.after:
            raise PipelineError(
                f"stage {self.stage.name!r} reads {name!r} without declaring it in after="
            )
        return self.run_dir / "stages" / name

    def progress(
        self, iterable: Iterable[T], *, total: int | None = None, unit: str = "item"
    ) -> Iterable[T]:
        """``iterable`` with a tqdm bar (rate and ETA) named after the stage."""
        from tqdm.auto import tqdm

        return tqdm(
            iterable,
            total=total,
            unit=unit,
            desc=self.stage.name,
            disable=not self.show_progress,
            dynamic_ncols=True,
            leave=True,
        )

    def map(
        self,
        items: Sequence[T],
        fn: Callable[[T], R],
        *,
        key: Callable[[T], str],
        unit: str = "item",
    ) -> list[R]:
        """``[fn(x) for x in items]`` with a progress bar and a checkpoint per item.

        Each result is pickled to ``<partial>/items/<key>.pkl`` as soon as it is computed; an
        interrupted stage that runs again with the same fingerprint loads them instead of
        calling ``fn`` again (``ctx.resumed_items`` counts those). Keys must be unique file
        names (frame numbers, file stems).
        """
        from survey.pipeline.items import MISSING, read_item, write_item

        folder = self.out / "items"
        folder.mkdir(parents=True, exist_ok=True)
        out: list[R] = []
        for x in self.progress(items, total=len(items), unit=unit):
            k = key(x)
            if not k or "/" in k or k.startswith("."):
                raise PipelineError(f"stage {self.stage.name!r}: invalid item key {k!r}")
            path = folder / f"{k}.pkl"
            got = read_item(path)  # a damaged item is logged, discarded and recomputed
            if got is not MISSING:
                out.append(got)
                self.resumed_items += 1
                continue
            r = fn(x)
            write_item(path, r)  # temp file, fsync, rename; length + sha256 checked on load
            out.append(r)
        return out


class Pipeline:
    """An ordered list of stages run into a run folder (see the module docstring)."""

    def __init__(self, stages: Sequence[Stage]) -> None:
        seen: set[str] = set()
        for s in stages:
            if not s.name or not s.name.replace("_", "a").replace("-", "a").isalnum():
                raise PipelineError(f"invalid stage name {s.name!r}")
            if s.name in seen:
                raise PipelineError(f"stage {s.name!r} appears twice")
            missing = [a for a in s.after if a not in seen]
            if missing:
                raise PipelineError(
                    f"stage {s.name!r} comes after {missing}, which must run before it"
                )
            seen.add(s.name)
        self.stages = list(stages)

    @property
    def names(self) -> list[str]:
        """Stage names in order."""
        return [s.name for s in self.stages]

    def fingerprint(
        self,
        stage: Stage,
        config: Config,
        params: dict[str, Any],
        upstream: dict[str, str],
        hash_mode: str,
    ) -> str:
        """The stage's fingerprint: code version, config sections, params, inputs, upstream."""
        sections = {}
        for sec in stage.config:
            if not hasattr(config, sec):
                raise PipelineError(
                    f"stage {stage.name!r} depends on unknown config section {sec!r}"
                )
            sections[sec] = to_toml(getattr(config, sec))
        missing = [p for p in stage.params if p not in params]
        if missing:
            raise PipelineError(f"stage {stage.name!r} needs run parameters {missing}")
        inputs = [] if stage.inputs is None else list(stage.inputs(params))
        return hash_json(
            {
                "stage": stage.name,
                "version": stage.version,
                "config": sections,
                "params": {p: params[p] for p in stage.params},
                "inputs": fingerprint_files(inputs, mode=hash_mode),
                "upstream": {a: upstream[a] for a in stage.after},
            }
        )

    def run(
        self,
        run_dir: str | Path,
        *,
        config: Config | None = None,
        params: dict[str, Any] | None = None,
        rerun_from: str | None = None,
        until: str | None = None,
        progress: bool | None = None,
        force: bool = False,
    ) -> list[StageResult]:
        """Run the stages into ``run_dir``; returns one result per stage.

        ``rerun_from`` forces that stage and every later one; ``until`` stops after that stage.
        A failing stage raises :class:`PipelineError` (its partial folder is kept for resuming;
        ``run.json`` records the failure). The folder must be a run folder, new or empty
        (``force`` accepts any folder), and is locked while the stages run
        (:func:`survey.pipeline.rundir.claim_run_dir`).
        """
        from survey.pipeline.rundir import claim_run_dir

        rd = Path(run_dir)
        for name in (rerun_from, until):
            if name is not None and name not in self.names:
                raise PipelineError(f"no stage {name!r}; stages: {', '.join(self.names)}")
        with claim_run_dir(rd, force=force):
            return self._run(
                rd, config or Config(), dict(params or {}), rerun_from, until, progress
            )

    def _run(
        self,
        rd: Path,
        cfg: Config,
        prm: dict[str, Any],
        rerun_from: str | None,
        until: str | None,
        progress: bool | None,
    ) -> list[StageResult]:
        show = cfg.pipeline.progress if progress is None else progress
        (rd / "stages").mkdir(parents=True, exist_ok=True)
        (rd / "config.toml").write_text(to_toml(cfg), encoding="utf-8")
        forced = False
        upstream: dict[str, str] = {}
        results: list[StageResult] = []
        for stage in self.stages:
            forced = forced or stage.name == rerun_from
            fp = self.fingerprint(stage, cfg, prm, upstream, cfg.pipeline.hash_mode)
            done, partial = rd / "stages" / stage.name, rd / "stages" / f"{stage.name}.partial"
            if not forced and _finished(done, fp, cfg.pipeline.hash_mode):
                log.info("stage %s: unchanged, skipped", stage.name)
                upstream[stage.name] = _manifest(done)["outputs_fingerprint"]
                results.append(StageResult(stage.name, "skipped", fp))
            else:
                results.append(self._run_stage(stage, rd, done, partial, fp, cfg, prm, show))
                upstream[stage.name] = _manifest(done)["outputs_fingerprint"]
            if stage.name == until:
                break
        _record_run(rd, results, prm)
        return results

    def _run_stage(
        self,
        stage: Stage,
        rd: Path,
        done: Path,
        partial: Path,
        fp: str,
        cfg: Config,
        prm: dict[str, Any],
        show: bool,
    ) -> StageResult:
        stamp = partial / ".fingerprint"
        if partial.exists() and (not stamp.is_file() or stamp.read_text() != fp):
            shutil.rmtree(partial)  # leftovers of different inputs or config: start over
        partial.mkdir(parents=True, exist_ok=True)
        stamp.write_text(fp)
        ctx = StageContext(stage, rd, partial, cfg, prm, show)
        t0 = time.perf_counter()
        log.info("stage %s: running", stage.name)
        try:
            stage.fn(ctx)
        except (KeyboardInterrupt, SystemExit):
            _record_run(rd, [StageResult(stage.name, "failed", fp, error="interrupted")], prm)
            raise
        except SurveyError as exc:
            _record_run(rd, [StageResult(stage.name, "failed", fp, error=str(exc))], prm)
            raise PipelineError(f"stage {stage.name!r} failed: {exc}") from exc
        except Exception as exc:  # a bug or an OS error: record it, keep the partial work
            _record_run(rd, [StageResult(stage.name, "failed", fp, error=repr(exc))], prm)
            raise
        secs = time.perf_counter() - t0
        items = partial / "items"
        if items.is_dir():
            shutil.rmtree(items)  # checkpoints are only for resuming this stage
        stamp.unlink()
        manifest = {
            "stage": stage.name,
            "fingerprint": fp,
            "version": stage.version,
            "finished_t_s": time.time(),
            "seconds": round(secs, 3),
            "resumed_items": ctx.resumed_items,
            "outputs": fingerprint_tree(partial, mode=cfg.pipeline.hash_mode),
        }
        manifest["outputs_fingerprint"] = hash_json(manifest["outputs"])
        (partial / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
        old = done.with_name(done.name + ".old")
        if done.exists():
            shutil.rmtree(old, ignore_errors=True)
            os.replace(done, old)
        os.replace(partial, done)
        shutil.rmtree(old, ignore_errors=True)
        log.info("stage %s: done in %.1f s", stage.name, secs)
        return StageResult(stage.name, "ran", fp, secs, ctx.resumed_items)


def _manifest(done: Path) -> dict[str, Any]:
    try:
        m: dict[str, Any] = json.loads((done / MANIFEST).read_text(encoding="utf-8"))
        return m
    except (OSError, ValueError) as exc:
        raise PipelineError(f"unreadable stage manifest: {exc}", path=done / MANIFEST) from exc


def _finished(done: Path, fp: str, hash_mode: str) -> bool:
    """The stage finished with this fingerprint and its outputs are still as recorded."""
    if not (done / MANIFEST).is_file():
        return False
    try:
        m = _manifest(done)
    except PipelineError:
        return False
    if m.get("fingerprint") != fp:
        return False
    if fingerprint_tree(done, mode=hash_mode) != m.get("outputs"):
        log.warning("stage %s: outputs changed since it ran; running it again", done.name)
        return False
    return True


def _record_run(rd: Path, results: Sequence[StageResult], params: dict[str, Any]) -> None:
    """Append this invocation to ``run.json`` (the run's history)."""
    path = rd / "run.json"
    try:
        hist = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {"runs": []}
    except ValueError:
        hist = {"runs": []}
    if not isinstance(hist, dict) or not isinstance(hist.get("runs"), list):
        log.warning("%s: not a run history (no 'runs' list); starting a new one", path)
        hist = {"runs": []}
    hist["runs"].append(
        {
            "t_s": time.time(),
            "params": json.loads(json.dumps(params, default=str)),
            "stages": [r.__dict__ for r in results],
        }
    )
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(hist, indent=1), encoding="utf-8")
    os.replace(tmp, path)
