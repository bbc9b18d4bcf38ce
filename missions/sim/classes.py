"""Defect and distractor classes of the simulator, with fixed COCO category ids.

The names follow the class proposal in the project's domain notes (rail: broken_rail,
missing_fastener, sleeper_defect, rail_head_damage, ballast_defect, vegetation, drainage,
obstruction; pipelines: leak_candidate, insulation_loss, coating_corrosion, exposed_pipe,
third_party_activity, vegetation_stress; and false_positive for thermal look-alikes). Ids never
change, so COCO files from different simulations and the training set agree.

``bands`` says in which camera a class is visible (and annotated): leaks and insulation loss
are thermal-only; false_positive (sun-heated rocks, vehicles, roofs, manholes) is annotated in
the thermal COCO only, where it is the look-alike a leak detector must reject.

Severity is the domain notes' advisory 1-5 scale; :func:`severity` computes it from a
defect's attributes with the rules written next to each class.

Examples
--------
>>> CLASSES["missing_fastener"].id, CLASSES["leak_candidate"].bands
(2, ('thermal',))
>>> severity("leak_candidate", delta_t_k=4.0, area_m2=3.0), severity("leak_candidate", delta_t_k=0.6)
(4, 2)
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CLASSES", "DefectClass", "categories", "severity"]


@dataclass(frozen=True)
class DefectClass:
    """One class: COCO id, name, asset kind, the bands it shows in, and a description."""

    id: int
    name: str
    asset: str  # "rail", "pipeline" or "any"
    bands: tuple[str, ...]
    description: str


_LIST = [
    DefectClass(1, "broken_rail", "rail", ("rgb",), "gap in a rail (50-150 mm)"),
    DefectClass(2, "missing_fastener", "rail", ("rgb",), "rail clip missing from its seat"),
    DefectClass(3, "sleeper_defect", "rail", ("rgb",), "cracked, broken or missing sleeper"),
    DefectClass(4, "rail_head_damage", "rail", ("rgb",), "squat / spalling on the rail head"),
    DefectClass(5, "ballast_defect", "rail", ("rgb",), "fouled or muddy ballast"),
    DefectClass(6, "vegetation", "any", ("rgb",), "vegetation on the track bed or right of way"),
    DefectClass(7, "drainage", "rail", ("rgb",), "standing water beside or on the track"),
    DefectClass(8, "obstruction", "rail", ("rgb",), "foreign object on the track"),
    DefectClass(9, "leak_candidate", "pipeline", ("thermal",), "warm amorphous plume on the route"),
    DefectClass(10, "insulation_loss", "pipeline", ("thermal",), "long warm band along the pipe"),
    DefectClass(11, "coating_corrosion", "pipeline", ("rgb",), "rust on an above-ground pipe"),
    DefectClass(12, "exposed_pipe", "pipeline", ("rgb",), "buried pipe laid bare by erosion"),
    DefectClass(13, "third_party_activity", "pipeline", ("rgb",), "excavation or machinery"),
    DefectClass(14, "vegetation_stress", "pipeline", ("rgb",), "dying vegetation over the pipe"),
    DefectClass(15, "false_positive", "any", ("thermal",), "thermal look-alike, not a defect"),
]

#: name -> class
CLASSES: dict[str, DefectClass] = {c.name: c for c in _LIST}


def categories(band: str | None = None) -> list[dict[str, object]]:
    """COCO ``categories`` (all classes, or those visible in ``band``)."""
    return [
        {"id": c.id, "name": c.name, "supercategory": c.asset}
        for c in _LIST
        if band is None or band in c.bands
    ]


def severity(name: str, **attrs: float) -> int:
    """Advisory severity 1-5 from a defect's class and attributes.

    Rules (domain notes' table): broken_rail 5; missing_fastener 3, 4 when ``cluster`` >= 3;
    sleeper_defect 3, 4 when missing; rail_head_damage 3; obstruction 4, 5 when on the rails;
    vegetation, ballast_defect, drainage, vegetation_stress 2; leak_candidate 4 when
    dT >= 3 K and area >= 2 m2, 3 when dT >= 1 K, else 2 (5 when dT >= 10 K: steam at the
    surface); insulation_loss 3; coating_corrosion 2, 3 above 0.3 m2; exposed_pipe 4;
    third_party_activity 5 within 3 m of the pipe, else 4; false_positive 1.
    """
    a = attrs.get
    if name == "broken_rail":
        return 5
    if name == "missing_fastener":
        return 4 if a("cluster", 1.0) >= 3 else 3
    if name == "sleeper_defect":
        return 4 if a("missing", 0.0) else 3
    if name == "rail_head_damage":
        return 3
    if name == "obstruction":
        return 5 if a("on_rails", 0.0) else 4
    if name in ("vegetation", "ballast_defect", "drainage", "vegetation_stress"):
        return 2
    if name == "leak_candidate":
        dt, area = a("delta_t_k", 0.0), a("area_m2", 0.0)
        if dt >= 10.0:
            return 5
        if dt >= 3.0 and area >= 2.0:
            return 4
        return 3 if dt >= 1.0 else 2
    if name == "insulation_loss":
        return 3
    if name == "coating_corrosion":
        return 3 if a("area_m2", 0.0) > 0.3 else 2
    if name == "exposed_pipe":
        return 4
    if name == "third_party_activity":
        return 5 if abs(a("offset_m", 99.0)) <= 3.0 else 4
    if name == "false_positive":
        return 1
    raise KeyError(f"unknown class {name!r}; known: {', '.join(CLASSES)}")
