"""Research built on md_orderml's core, kept apart from the product.

* :mod:`~md_orderml.research.glassy`: glassy liquids (dynamic propensity regression,
  glass-vs-liquid classification);
* :mod:`~md_orderml.research.precrystallization`: does the pretrained backbone see
  crystallization coming (benchmark);
* :mod:`~md_orderml.research.probes`: logistic probes and ROC AUC shared by both.

Research may import the core; the core never imports research (``tests/unit/test_architecture.py``).
Its commands form the ``md-orderml research`` group (:mod:`~md_orderml.research.cli`).
"""
