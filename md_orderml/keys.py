"""Names shared by the model file, the engines and the file formats (one place, like nequip's keys).

Output keys are the entries of the dictionary returned by an exported model's ``forward``;
``GSD_*`` are the per-particle log paths written into GSD files (OVITO reads them).
"""

# Outputs of an exported model (all for owned particles only, in input order).
LABEL = "label"  #: int64 class index, shape (N_owned,)
PROBABILITIES = "probabilities"  #: float32 class probabilities, shape (N_owned, n_classes)
#: float32 probability of the label given, shape (N_owned,): the largest probability, except where
#: the isolated-crystal rule relabelled a crystal-labelled particle liquid (then its liquid probability)
#: or the unknown rule labelled it ``unknown`` (then 0: unknown has no probability of its own)
CONFIDENCE = "confidence"
EMBEDDING = "embedding"  #: float32 invariant per-particle embedding, shape (N_owned, n_embedding)
VALUES = "values"  #: float32 per-particle regression outputs, shape (N_owned, n_values) (regression models)
OUTPUT_KEYS = (LABEL, PROBABILITIES, CONFIDENCE, EMBEDDING)  #: outputs of a classification model
REGRESSION_OUTPUT_KEYS = (VALUES, EMBEDDING)  #: outputs of a regression model

# Tasks of a model file (metadata ``task``; files without it are classification models).
CLASSIFICATION = "classification"
REGRESSION = "regression"
TASKS = (CLASSIFICATION, REGRESSION)

# The metadata record stored inside the TorchScript file.
METADATA_FILE = "md_orderml_metadata.json"
#: Plain weights record stored beside the metadata (:mod:`md_orderml.model_weights`), so the module
#: can be rebuilt where the archive's TorchScript code does not load (another torch version).
WEIGHTS_FILE = "md_orderml_weights.pt"
FORMAT_NAME = "md_orderml-model"
#: Newest format this package reads. Classification files are still written as version 1
#: (unchanged, so older readers and the C++ plugin load them); regression files are version 2,
#: which older readers refuse instead of misreading (they would look for class labels).
FORMAT_VERSION = 3
CLASSIFICATION_FORMAT_VERSION = 1
REGRESSION_FORMAT_VERSION = 2
#: Classification files in the local length unit (``length_unit: "local"``): readers that size
#: ghost layers by ``receptive_field * (V/N)^(1/3)`` (format 1 only) must refuse them.
LOCAL_UNIT_FORMAT_VERSION = 3
#: Optional metadata record of classifiers whose crystal labels need crystalline neighbours
#: (``radius``, ``min_neighbours``, ``crystal_classes``, ``relabel``); informative, the rule is in the code.
ISOLATED_CRYSTAL_RULE = "isolated_crystal_rule"
#: Optional metadata record of classifiers with the unknown rule (``md_orderml.nn.unknown``): method,
#: quantile, calibration noise, ``thresholds`` by class name, ``relabel`` (the last class name).
UNKNOWN_RULE = "unknown_rule"
EMBEDDING_AVERAGE = "embedding_average"  #: metadata: neighbour average of the embedding (``radius``)
UNKNOWN = "unknown"  #: the class name of environments unlike the training data (always the last class)
#: Optional metadata record: crystallography per class name (``md_orderml.prototypes.class_info``).
CLASS_INFO = "class_info"

# GSD log paths (per particle, file particle order).
GSD_PREFIX = "log/particles/md_orderml/"
GSD_LABEL = GSD_PREFIX + LABEL
GSD_CONFIDENCE = GSD_PREFIX + CONFIDENCE
GSD_PROBABILITIES = GSD_PREFIX + PROBABILITIES
GSD_CLASS_NAMES = "log/md_orderml/class_names"
GSD_VALUES = GSD_PREFIX + VALUES  #: float32 (N, n_values) regression outputs
GSD_VALUE_NAMES = "log/md_orderml/value_names"  #: JSON list of the value names
#: Periodic flags (x, y, z) of a frame with an open direction, uint8 (3,) (HOOMD boxes have no such flags).
GSD_PBC = "log/md_orderml/pbc"
GSD_MODEL_SHA256 = "log/md_orderml/model_sha256"  #: SHA-256 of the model file (64 hex digits)
