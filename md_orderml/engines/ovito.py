"""An OVITO Python modifier: md_orderml labels in any ``ovito`` pipeline (scripts or OVITO Pro).

:class:`OrderMLModifier` runs a model file on each frame a pipeline computes (any file
OVITO reads: LAMMPS dumps, GSD, extended XYZ, POSCAR, ...) through
:meth:`md_orderml.analysis.OrderML.compute`, which takes the ``DataCollection``'s cell,
periodic flags, positions and particle types (type names, or the numeric type ids as
text where a type has no name, e.g. ``"1"`` in LAMMPS dumps). It adds:

* particle property ``OrderML Label``: the class index, a typed property whose types are
  the class names (so OVITO colours, selects and counts them like PTM's structure types);
* ``OrderML Confidence``: the probability of the label given;
* ``OrderML Probabilities`` (with ``probabilities=True``): one component per class;
* global attributes ``OrderML.fraction.<class>`` (fraction of particles in each class).

A regression model file gives ``OrderML Values`` (one component per value name) and the
attributes ``OrderML.mean.<value>`` instead. Loaded models are cached per (file, device),
so a pipeline over many frames loads its model once. ``ovito`` (3.9 or newer, for
:class:`ovito.pipeline.ModifierInterface`) is imported by this module only.

Example:
    >>> import numpy as np
    >>> from ovito.data import DataCollection
    >>> from ovito.pipeline import Pipeline, StaticSource
    >>> from md_orderml import structures
    >>> from md_orderml.engines.ovito import OrderMLModifier
    >>> s = structures.crystal("fcc", noise=0.03, min_width=6.0, seed=0)
    >>> data = DataCollection()
    >>> cell = data.create_cell(np.column_stack([s.cell.T, np.zeros(3)]), pbc=(True, True, True))
    >>> _ = data.create_particles(count=s.N).create_property("Position", data=s.positions)
    >>> pipeline = Pipeline(source=StaticSource(data=data))
    >>> pipeline.modifiers.append(OrderMLModifier(model="default"))
    >>> out = pipeline.compute()
    >>> out.attributes["OrderML.fraction.fcc"]
    1.0
    >>> labels = out.particles["OrderML Label"]
    >>> labels.types[int(labels[0])].name
    'fcc'
"""

from __future__ import annotations

import functools

import numpy as np
from ovito.data import ParticleType
from ovito.pipeline import ModifierInterface
from traits.api import Bool, Dict, Str

from md_orderml.analysis import OrderML

LABEL_PROPERTY = "OrderML Label"  #: typed int property: class index, types named by class
CONFIDENCE_PROPERTY = "OrderML Confidence"  #: float: probability of the label given
PROBABILITIES_PROPERTY = "OrderML Probabilities"  #: float, one component per class
VALUES_PROPERTY = "OrderML Values"  #: float, one component per value (regression models)
FRACTION_ATTRIBUTE = "OrderML.fraction."  #: + class name: fraction of particles in the class
MEAN_ATTRIBUTE = "OrderML.mean."  #: + value name: mean value (regression models)

#: Colours of the usual class names (OVITO's PTM colours for the crystals).
CLASS_COLORS = {
    "fcc": (0.4, 1.0, 0.4), "hcp": (1.0, 0.4, 0.4), "bcc": (0.4, 0.4, 1.0), "ico": (0.95, 0.8, 0.2),
    "sc": (0.95, 0.1, 0.95), "cd": (0.075, 0.63, 1.0), "hd": (1.0, 0.54, 0.0), "liquid": (0.8, 0.8, 0.8),
}


@functools.lru_cache(maxsize=4)
def cached_classifier(model: str, device: str) -> OrderML:
    """One :class:`OrderML` per (model file, device), shared by all modifiers of the process."""
    return OrderML(model, device=device)


class OrderMLModifier(ModifierInterface):
    """Labels every particle of a pipeline's frames with an md_orderml model file.

    Attributes:
        model: Model file path or ``"default"``.
        device: ``"cpu"`` or ``"cuda"``.
        type_map: Maps the data's type names to the model's (typed models), e.g. ``{"1": "Cu"}``.
        probabilities: Also add ``OrderML Probabilities`` (N, n_classes).

    Raises (from ``modify``, shown by OVITO as the pipeline's error):
        md_orderml.errors.InputError: No cell or particles, NaN positions, a box smaller
            than twice the cutoff, unknown types, unsupported open directions (see
            :meth:`~md_orderml.analysis.OrderML.compute`).
    """

    model = Str("default", label="Model file")
    device = Str("cpu", label="Device")
    type_map = Dict(Str, Str, label="Type map")
    probabilities = Bool(False, label="Output class probabilities")

    def modify(self, data, *, frame: int, **kwargs) -> None:
        """Add the labels (or values) of frame ``frame`` to ``data`` (a ``DataCollection``)."""
        clf = cached_classifier(self.model, self.device)
        clf.type_map = dict(self.type_map)
        clf.compute(data)
        particles = data.particles_
        if clf.is_regression:
            particles.create_property(VALUES_PROPERTY, dtype=float, components=list(clf.value_names),
                                      data=clf.values.astype(np.float64))
            for name, mean in clf.means.items():
                data.attributes[MEAN_ATTRIBUTE + name] = mean
            return
        if LABEL_PROPERTY in particles:
            del particles[LABEL_PROPERTY]  # start its list of types afresh
        labels = particles.create_property(LABEL_PROPERTY, dtype=int, data=clf.labels)
        for index, name in enumerate(clf.class_names):
            labels.types.append(ParticleType(id=index, name=name, color=CLASS_COLORS.get(name, (1.0, 1.0, 1.0))))
        particles.create_property(CONFIDENCE_PROPERTY, dtype=float, data=clf.confidence.astype(np.float64))
        if self.probabilities:
            particles.create_property(PROBABILITIES_PROPERTY, dtype=float, components=list(clf.class_names),
                                      data=clf.probabilities.astype(np.float64))
        for name, fraction in clf.fractions.items():
            data.attributes[FRACTION_ATTRIBUTE + name] = fraction
