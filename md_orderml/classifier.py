"""Deprecated module name of :mod:`md_orderml.analysis` (kept for one release).

``from md_orderml.classifier import StructureClassifier`` still works and warns; use
``from md_orderml import OrderML``.
"""

import warnings

from md_orderml.analysis import OrderML, length_scale_of, planar_frame, wrong_task_message  # noqa: F401

warnings.warn("md_orderml.classifier is deprecated; use md_orderml.analysis (class OrderML)", DeprecationWarning,
              stacklevel=2)

StructureClassifier = OrderML  #: deprecated name of :class:`~md_orderml.analysis.OrderML`
