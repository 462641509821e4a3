"""Names shared by the model file, the engines and the file formats (one place, like nequip's keys).

Output keys are the entries of the dictionary returned by an exported model's ``forward``;
``GSD_*`` are the per-particle log paths written into GSD files (OVITO reads them).
"""

# Outputs of an exported model (all for owned particles only, in input order).
LABEL = "label"  #: int64 class index, shape (N_owned,)
PROBABILITIES = "probabilities"  #: float32 class probabilities, shape (N_owned, n_classes)
CONFIDENCE = "confidence"  #: float32 largest class probability, shape (N_owned,)
EMBEDDING = "embedding"  #: float32 invariant per-particle embedding, shape (N_owned, n_embedding)
OUTPUT_KEYS = (LABEL, PROBABILITIES, CONFIDENCE, EMBEDDING)

# The metadata record stored inside the TorchScript file.
METADATA_FILE = "md_orderml_metadata.json"
FORMAT_NAME = "md_orderml-model"
FORMAT_VERSION = 1

# GSD log paths (per particle, file particle order).
GSD_PREFIX = "log/particles/md_orderml/"
GSD_LABEL = GSD_PREFIX + LABEL
GSD_CONFIDENCE = GSD_PREFIX + CONFIDENCE
GSD_PROBABILITIES = GSD_PREFIX + PROBABILITIES
GSD_CLASS_NAMES = "log/md_orderml/class_names"
