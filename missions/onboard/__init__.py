"""The onboard runtime (``survey fly``): live detection, geotagging, alerts and the recorder.

:mod:`missions.onboard.queues` (bounded drop-oldest queue), :mod:`missions.onboard.sources`
(camera frame sources), :mod:`missions.onboard.geotag` (frame choice, pose, ground position,
chainage), :mod:`missions.onboard.defects` (online merging and alerts),
:mod:`missions.onboard.recorder` (the flight folder), :mod:`missions.onboard.runtime` (the loop),
:mod:`missions.onboard.diff` (``survey diff``), :mod:`missions.onboard.cli` (the commands).
"""
