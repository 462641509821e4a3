"""Unsupervised discovery of local environments (``md-orderml discover``).

Embeddings of every particle's neighbourhood from a backbone (the default model's by
default; the shipped pretrained one with ``model="pretrained"``), averaged over first neighbours, are clustered with a Gaussian mixture whose
number of components the BIC chooses; the clusters become an ordinary model file, so the
discovered classes run on the fly in LAMMPS and HOOMD.

* :mod:`~md_orderml.discovery.clustering`: PCA and the Gaussian mixture.
* :mod:`~md_orderml.discovery.cluster_model`: the embedding model and the cluster model file.
* :mod:`~md_orderml.discovery.run`: the two passes (:func:`discover`).
* :mod:`~md_orderml.discovery.assign`: labelling every frame with the cluster model.
* :mod:`~md_orderml.discovery.report`: ``clusters.gsd``, ``summary.json``, figures, environments.
"""

from md_orderml.discovery.run import discover

__all__ = ["discover"]
