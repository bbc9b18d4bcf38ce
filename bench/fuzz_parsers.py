"""Fuzz every file reader with seeded damaged copies of real files; print outcome counts.

    PYTHONPATH=$PWD python bench/fuzz_parsers.py [--n 200] [--seed 0] [--only srt,fff]

Counts per target: ok / project error / stopped at its time budget / traceback / hang, and the first defects with the case
(seeded, so a case can be replayed with survey.robustness.damage). Used for docs/robustness.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from survey.robustness import TARGETS, fuzz


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", default="")
    ap.add_argument("--timeout-s", type=float, default=20.0)
    ap.add_argument("--data", default=os.environ.get("SURVEY_SHARED_DATA", "../shared/data"))
    a = ap.parse_args()
    # the parser budget must end before the harness alarm, or a budgeted case counts as a hang
    os.environ.setdefault("SURVEY_PARSER_BUDGET_S", str(a.timeout_s / 2))
    only = {s for s in a.only.split(",") if s}
    bad = 0
    with tempfile.TemporaryDirectory(prefix="fuzz-") as tmp:
        for t in TARGETS:
            if only and t.name not in only:
                continue
            r = fuzz(t, Path(a.data), a.n, seed=a.seed, work_dir=Path(tmp), timeout_s=a.timeout_s)
            o = r.outcomes
            print(
                f"{t.name:10s} {r.cases:5d} cases  ok {o['ok']:5d}  error {o['error']:5d}  "
                f"budget {o['budget']:3d}  traceback {o['traceback']:4d}  hang {o['hang']:3d}  "
                f"({r.seconds:.0f} s)",
                flush=True,
            )
            for case, cls, detail in r.defects[:6]:
                print(f"    {cls}: {case}: {detail}", flush=True)
            bad += len(r.defects)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
