"""Precision / recall of the leak detector on synthetic scenes with distractors.

Run: ``.venv/bin/python bench/thermal_leaks_eval.py [--scenes N]``. Scenes come from
:func:`thermal.synthetic.make_leak_scene` (2 leaks each, a cool one in every third scene,
daytime in every other one, with off-corridor hot objects, a sun glint and a sun-heated rock).
A detection is a true positive when its centroid lies within 1.5 leak radii of an unmatched
leak of the same polarity.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from thermal import FrameContext, detect_anomalies
from thermal.synthetic import make_leak_scene


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenes", type=int, default=30)
    n = ap.parse_args().scenes
    tp = fp = fn = 0
    kinds: dict[str, int] = {}
    t0 = time.perf_counter()
    for seed in range(n):
        s = make_leak_scene(seed, daytime=seed % 2 == 0, cool_leak=seed % 3 == 0)
        r = detect_anomalies(
            s.temp_c,
            corridor=s.corridor,
            context=FrameContext(gsd_m=s.gsd_m, local_hour=s.local_hour),
        ).accepted_only()
        matched = np.zeros(len(s.leak_xy), bool)
        for i in range(len(r)):
            d = np.hypot(*(s.leak_xy - r.centroid_xy[i]).T)
            j = int(np.argmin(d))
            if (
                d[j] < 1.5 * s.leak_radius_px[j]
                and np.sign(r.delta_max_c[i]) == s.leak_polarity[j]
                and not matched[j]
            ):
                matched[j] = True
                tp += 1
            else:
                fp += 1
                dk = np.hypot(*(s.distractor_xy - r.centroid_xy[i]).T)
                k = s.distractor_kind[int(np.argmin(dk))] if dk.min() < 10 else "ground texture"
                kinds[k] = kinds.get(k, 0) + 1
        fn += int((~matched).sum())
    dt = (time.perf_counter() - t0) / n
    print(f"{n} scenes, {tp + fn} leaks: TP {tp}, FP {fp}, FN {fn}")
    print(
        f"precision {tp / max(tp + fp, 1):.3f}, recall {tp / max(tp + fn, 1):.3f}, {dt * 1000:.0f} ms/scene"
    )
    print("false positives by nearest cause:", kinds)


if __name__ == "__main__":
    main()
