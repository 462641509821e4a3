"""The metadata record of a model file: building it, its format version, its task.

The fields are listed in :mod:`md_orderml.model_file`, which writes the record into the
file (:func:`~md_orderml.model_file.save_model`) and reads it back.
"""

from __future__ import annotations

import re
from typing import Dict, Optional

from md_orderml import keys
from md_orderml.errors import ModelFileError


def task_of(metadata: Dict) -> str:
    """The task of a metadata record: ``"classification"`` when the field is absent."""
    return str(metadata.get("task", keys.CLASSIFICATION))


_VALUE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def check_value_names(value_names) -> list:
    """Validate regression value names: a non-empty list of distinct identifiers.

    They become LAMMPS per-atom property names (``d_<fix_id>_<name>``), dump columns and
    HOOMD/GSD log names, so only letters, digits and ``_`` are allowed.

    Raises:
        ModelFileError: Empty, duplicated or non-identifier names.
    """
    names = [str(n) for n in value_names]
    if not names:
        raise ModelFileError("a regression model needs at least one value name")
    bad = [n for n in names if not _VALUE_NAME.match(n)]
    if bad:
        raise ModelFileError(f"value names must be identifiers (letters, digits, _): {bad}")
    if len(set(names)) != len(names):
        raise ModelFileError(f"value names must be distinct: {names}")
    return names


def build_metadata(
    class_names, cutoff: float, n_layers: int, architecture: Dict, training: Dict,
    type_names=(), value_names=None, value_info: Optional[Dict] = None, dimensions: int = 3,
    receptive_field: Optional[float] = None, length_unit: str = "global", vapour_name: str = "liquid",
) -> Dict:
    """Assemble the metadata record of a model file.

    A classification record (``value_names`` None) is format version 1 with the same
    fields as always; a regression record (``value_names`` given, ``class_names``
    empty) is format version 2 with ``task``, ``value_names`` and ``value_info``.

    Args:
        class_names: Class names, index = label (empty for a regression model).
        cutoff: Dimensionless neighbour cutoff.
        n_layers: Number of message-passing layers.
        architecture: Backbone settings (JSON-serialisable).
        training: Summary of the training run (JSON-serialisable).
        type_names: Model particle types, empty for a type-agnostic model.
        value_names: Regression models: the name of each column of ``values`` (S,).
        value_info: Regression models: optional description of the values (JSON-serialisable).
        dimensions: 3, or 2 for a model of two-dimensional systems.
        receptive_field: Dimensionless reach of the model (the engines' ghost layer);
            None: ``cutoff * n_layers``, the reach of a message-passing network.
        length_unit: ``"global"`` (recorded as before: no ``length_unit`` field) or
            ``"local"`` (``length_unit``, ``length_scale: "local"`` and the rule in
            ``local_length_scale``).
        vapour_name: Local unit: the class of capped (vapour) particles, ``relabel`` of
            ``local_length_scale`` (``"liquid"``, or ``"unknown"`` for models without a liquid class).

    Returns:
        The metadata dictionary.
    """
    from md_orderml.version import __version__

    regression = value_names is not None
    if dimensions not in (2, 3):
        raise ModelFileError(f"dimensions must be 2 or 3, got {dimensions!r}")
    if regression and list(class_names):
        raise ModelFileError("a regression model has no class names")
    if length_unit not in ("global", "local") or (regression and length_unit != "global"):
        raise ModelFileError(f"length_unit must be 'global' or (classification) 'local', got {length_unit!r}")
    metadata = {
        "format": keys.FORMAT_NAME,
        "format_version": format_version_for(keys.REGRESSION if regression else keys.CLASSIFICATION, length_unit),
        "md_orderml_version": __version__,
    }
    if regression:
        metadata.update(task=keys.REGRESSION, class_names=[], value_names=check_value_names(value_names),
                        value_info=dict(value_info or {}))
    else:
        metadata["class_names"] = list(class_names)
    metadata.update({
        "type_names": list(type_names),
        "cutoff": float(cutoff),
        "n_layers": int(n_layers),
        "receptive_field": float(cutoff) * int(n_layers) if receptive_field is None else float(receptive_field),
        "length_scale": "number_density",
        "dimensions": int(dimensions),
        "architecture": architecture,
        "training": training,
        "outputs": list(keys.REGRESSION_OUTPUT_KEYS if regression else keys.OUTPUT_KEYS),
    })
    if length_unit == "local":
        from md_orderml.local_scale import CAP_FACTOR, SCALE_RANK, UNIT_DISTANCE

        metadata.update(length_unit="local", length_scale="local", local_length_scale={
            "rank": SCALE_RANK, "unit_distance": UNIT_DISTANCE, "cap_factor": CAP_FACTOR, "bonds": "centre",
            "relabel": vapour_name,
            "reach": "receptive_field x the largest capped local scale: module.ghost_reach(positions, cell, pbc, "
                     "length_scale)"})
    return metadata


def format_version_for(task: str, length_unit: str) -> int:
    """The format version a file of this task and length unit is written with (see the table above)."""
    if task == keys.REGRESSION:
        return keys.REGRESSION_FORMAT_VERSION
    return keys.LOCAL_UNIT_FORMAT_VERSION if length_unit == "local" else keys.CLASSIFICATION_FORMAT_VERSION
