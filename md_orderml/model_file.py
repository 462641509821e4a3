"""The one model file: TorchScript code and weights with md_orderml's metadata inside.

The file is a TorchScript archive (``torch.jit.save``) carrying an extra record
``md_orderml_metadata.json`` (:data:`md_orderml.keys.METADATA_FILE`). Python, the
HOOMD analyzer, the LAMMPS compute and the C++ plugin all read the same file.

Metadata fields (format versions 1 and 2):

=========================  ==========================================================
``format``                 always ``"md_orderml-model"``
``format_version``         integer; loaders refuse newer versions. Classification files
                           are version 1, regression files version 2 (so that readers
                           older than regression models refuse them instead of looking
                           for class labels), classification files in the local length
                           unit version 3 (so that readers sizing ghosts by the global
                           unit refuse them)
``md_orderml_version``     version of the package that wrote the file
``task``                   ``"classification"`` (the default when absent) or
                           ``"regression"``; other values are refused
``class_names``            list of class names, index = label (empty for regression)
``value_names``            regression only: name of each output column of ``values``
                           (identifiers: letters, digits, ``_``), e.g.
                           ``["propensity_0p5_tau_alpha"]``
``value_info``             regression only, optional: what the values mean (free text
                           ``description``, ``scale`` per value, ...)
``outputs``                keys of the dictionary returned by ``forward``
``type_names``             model particle types; empty list = type-agnostic model
``cutoff``                 dimensionless neighbour cutoff (in units of ``length_scale``)
``n_layers``               message-passing layers
``receptive_field``        how far (in length units) ghosts must reach: ``n_layers * cutoff``
                           for a message-passing network, more for a model whose descriptors
                           average over neighbours (hybrid propensity models) or whose labels
                           depend on the neighbours' labels (``isolated_crystal_rule``)
``length_scale``           how lengths are made dimensionless: ``"number_density"``
                           means ``(V / N) ** (1 / 3)`` of the whole system; ``"local"``:
                           each particle's own unit (``length_unit`` ``"local"``)
``length_unit``            ``"global"`` (the default when absent: the ``length_scale``
                           argument of ``forward`` is the unit) or ``"local"`` (each
                           particle's unit from its own neighbourhood,
                           :mod:`md_orderml.local_scale`; ``receptive_field`` is then in
                           units of the largest local scale, and engines size ghosts with
                           the module's ``ghost_reach(positions, cell, pbc, length_scale)``)
``local_length_scale``     local unit only: the scale's rule (``rank``, ``unit_distance``,
                           ``cap_factor``, ``bonds``, ``relabel``: the class of capped
                           particles), informative (the rule is in the code)
``dimensions``             3, or 2 for a model of two-dimensional systems (positions in the
                           x-y plane, length scale ``(A / N) ** (1 / 2)``, periodic in x, y only)
``architecture``           backbone family and settings
``training``               summary of how the weights were made
``isolated_crystal_rule``  optional: a crystal label needs ``min_neighbours`` crystal-labelled
                           particles within ``radius`` (length units), else ``relabel``
``unknown_rule``           optional: particles whose embedding is far from the mean of their
                           predicted class get the last class, ``unknown`` (method, quantile,
                           calibration noise, threshold per class, optional ``rescue`` and
                           ``liquid_fallback``; :mod:`md_orderml.nn.unknown`)
``embedding_average``      optional: the embedding is averaged over neighbours within
                           ``radius`` (length units) before the head and the unknown rule
                           (models of ``md-orderml discover``)
``class_info``             optional: per class name, its crystallography (Pearson symbol,
                           prototype, Strukturbericht, space group, role;
                           :func:`md_orderml.prototypes.class_info`)
=========================  ==========================================================

Not in the metadata but computed by :func:`load_model`: :attr:`ModelFile.sha256`, the
SHA-256 of the file's bytes, which the writers store next to the class names (class
indices differ between models; go by names, and by the checksum to know the model).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import tempfile
import warnings
import zipfile
from pathlib import Path
from typing import Dict, Iterator, Optional

import torch

from md_orderml import keys
from md_orderml.errors import ModelFileError
from md_orderml.model_metadata import (  # noqa: F401 (build_metadata, check_value_names re-exported)
    build_metadata, check_value_names, format_version_for, task_of,
)
from md_orderml.model_weights import weights_record

DEFAULT_MODEL_PATH = Path(__file__).resolve().parent / "models" / "default.pt"
#: Models shipped in the package, by the name that selects them (``load_model("classic")``):
#: ``classic`` is the seven-class model (fcc bcc hcp sc cd hd liquid) of the releases before
#: the prototype vocabulary (issue 21).
SHIPPED_MODELS = {"default": DEFAULT_MODEL_PATH, "classic": DEFAULT_MODEL_PATH.parent / "classic.pt"}


@dataclasses.dataclass
class ModelFile:
    """A loaded model file.

    Attributes:
        module: The TorchScript module (see ``StructureLabeler.forward`` and
            ``StructureRegressor.forward``).
        metadata: The metadata dictionary stored in the file.
        path: Where the file was loaded from.
        sha256: SHA-256 of the file's bytes (64 hex digits), computed once at load.
    """

    module: torch.jit.ScriptModule
    metadata: Dict
    path: Path
    sha256: str = ""

    @property
    def task(self) -> str:
        """``"classification"`` (labels, probabilities) or ``"regression"`` (values)."""
        return task_of(self.metadata)

    @property
    def is_regression(self) -> bool:
        """Whether the model predicts per-particle values instead of class labels."""
        return self.task == keys.REGRESSION

    @property
    def class_names(self) -> list:
        """Class names, indexed by label (empty for a regression model)."""
        return list(self.metadata["class_names"])

    @property
    def value_names(self) -> list:
        """Names of the columns of the ``values`` output (empty for a classification model)."""
        return list(self.metadata.get("value_names", []))

    @property
    def cutoff(self) -> float:
        """Dimensionless neighbour cutoff."""
        return float(self.metadata["cutoff"])

    @property
    def receptive_field(self) -> float:
        """Dimensionless distance that ghost particles must cover."""
        return float(self.metadata["receptive_field"])

    @property
    def type_names(self) -> list:
        """Particle types the model knows; empty for a type-agnostic model."""
        return list(self.metadata.get("type_names", []))

    @property
    def length_unit(self) -> str:
        """``"global"`` (the default when absent) or ``"local"`` (see :mod:`md_orderml.local_scale`)."""
        return str(self.metadata.get("length_unit", "global"))

    @property
    def dimensions(self) -> int:
        """2 for a model of two-dimensional systems, else 3 (the default when absent)."""
        return int(self.metadata.get("dimensions", 3))

    def to(self, device: str) -> "ModelFile":
        """Move the module to ``device`` (``"cpu"``, ``"cuda"``) and return self."""
        self.module = self.module.to(device)
        return self


def resolve_model_path(model: Optional[str]) -> Path:
    """Turn ``None``/``"default"``, another name of :data:`SHIPPED_MODELS` (``"classic"``) or a
    path into the path of a model file."""
    if model is None:
        return DEFAULT_MODEL_PATH
    return SHIPPED_MODELS.get(str(model), Path(model))


def file_sha256(path) -> str:
    """SHA-256 of a file's bytes, as 64 hex digits."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextlib.contextmanager
def quiet_torchscript() -> Iterator[None]:
    """A context that hides torch's TorchScript deprecation warnings inside md_orderml's own calls.

    ``FutureWarning`` s and ``DeprecationWarning`` s naming TorchScript or ``torch.jit``
    (torch >= 2.14 prints them on every script, save and load) are ignored within the
    block; other warnings and the global filters are untouched (``warnings.catch_warnings``).
    ARCHITECTURE.md says what replaces TorchScript when it goes.
    """
    with warnings.catch_warnings():
        for category in (FutureWarning, DeprecationWarning):
            warnings.filterwarnings("ignore", message=r".*(torchscript|torch\.jit)", category=category)
        yield


def save_model(module: torch.nn.Module, metadata: Dict, path) -> Path:
    """Compile ``module`` with TorchScript and save it with ``metadata`` inside.

    The file is written to a temporary name and renamed, so a failure leaves nothing. Beside
    the metadata it holds a plain weights record (:mod:`md_orderml.model_weights`), from which
    :func:`load_model` rebuilds the module where the TorchScript code does not load.

    Args:
        module: A ``StructureLabeler`` or ``StructureRegressor`` (eager) or an already scripted module.
        metadata: From :func:`build_metadata`.
        path: Output file.

    Returns:
        The path written.
    """
    from e3nn.util import jit as e3nn_jit

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    metadata = dict(metadata, format_version=format_version_for(task_of(metadata),
                                                                metadata.get("length_unit", "global")))
    if isinstance(module, torch.jit.ScriptModule):
        scripted = module
    else:
        module = module.cpu().eval()
        with quiet_torchscript():
            scripted = e3nn_jit.script(module, in_place=False)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        with quiet_torchscript():
            torch.jit.save(scripted, tmp, _extra_files={keys.METADATA_FILE: json.dumps(metadata, indent=1),
                                                        keys.WEIGHTS_FILE: weights_record(scripted)})
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600 files; model files are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    return path


def read_metadata(path) -> Dict:
    """Read only the metadata of a model file (no TorchScript load).

    Raises:
        ModelFileError: Missing, corrupted, foreign or too-new file.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: model file not found")
    try:
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.endswith("extra/" + keys.METADATA_FILE)]
            if not names:
                raise ModelFileError(
                    f"{path}: not an md_orderml model file (a TorchScript archive without md_orderml metadata)"
                )
            metadata = json.loads(archive.read(names[0]).decode())
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        raise ModelFileError(f"{path}: corrupted or foreign model file ({err})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ModelFileError(f"{path}: corrupted model metadata ({err})") from None
    _check_metadata(metadata, path)
    return metadata


def _check_metadata(metadata: Dict, path: Path) -> None:
    if not isinstance(metadata, dict) or metadata.get("format") != keys.FORMAT_NAME:
        raise ModelFileError(f"{path}: not an md_orderml model file (metadata format is not {keys.FORMAT_NAME!r})")
    version = metadata.get("format_version")
    if not isinstance(version, int):
        raise ModelFileError(f"{path}: corrupted model metadata (format_version={version!r})")
    if version > keys.FORMAT_VERSION:
        raise ModelFileError(
            f"{path}: model file format {version} is newer than this md_orderml supports "
            f"({keys.FORMAT_VERSION}); it was written by md_orderml {metadata.get('md_orderml_version')}: upgrade md_orderml"
        )
    for key in ("class_names", "cutoff", "receptive_field"):
        if key not in metadata:
            raise ModelFileError(f"{path}: corrupted model metadata (no {key!r})")
    if metadata.get("length_unit", "global") not in ("global", "local"):
        raise ModelFileError(f"{path}: unknown length unit {metadata.get('length_unit')!r} (this md_orderml "
                             "knows global, local); upgrade md_orderml")
    if metadata.get("dimensions", 3) not in (2, 3):
        raise ModelFileError(f"{path}: corrupted model metadata (dimensions={metadata.get('dimensions')!r})")
    task = task_of(metadata)
    if task not in keys.TASKS:
        raise ModelFileError(f"{path}: unknown model task {task!r} (this md_orderml knows "
                             f"{', '.join(keys.TASKS)}); upgrade md_orderml")
    if task == keys.REGRESSION:
        try:
            check_value_names(metadata.get("value_names", []))
        except ModelFileError as err:
            raise ModelFileError(f"{path}: corrupted model metadata ({err})") from None
    elif not metadata["class_names"]:
        raise ModelFileError(f"{path}: corrupted model metadata (a classification model without class names)")


def rebuilt_module(path: Path, metadata: Dict, device: str = "cpu"):
    """The eager module rebuilt from a file's weights record, or None where it has none (or is no classifier).

    Used when this torch cannot load the file's TorchScript code (a file written by another
    torch version): the same weights run through today's code.
    """
    from md_orderml.model_weights import rebuild_labeler, stored_weights

    if task_of(metadata) != keys.CLASSIFICATION:
        return None
    try:
        with zipfile.ZipFile(path) as archive:
            tensors = stored_weights(archive.namelist(), archive.read, str(path))
    except (zipfile.BadZipFile, OSError, EOFError):
        return None
    if tensors is None:
        return None
    warnings.warn(f"{path}: this torch ({torch.__version__}) cannot load the file's TorchScript code; "
                  "running its weights in md_orderml's own code (model_weights.rebuild_labeler)", stacklevel=3)
    return rebuild_labeler(metadata, tensors, str(path)).to(device)


def load_model(model=None, device: str = "cpu") -> ModelFile:
    """Load a model file and check its metadata.

    Args:
        model: A path, ``None``/``"default"`` for the default model shipped in the package,
            or ``"classic"`` for the seven-class model (:data:`SHIPPED_MODELS`).
        device: Where to put the module (``"cpu"`` or ``"cuda"``).

    Returns:
        The :class:`ModelFile`.

    Raises:
        ModelFileError: Missing, corrupted, foreign or too-new file.
    """
    path = resolve_model_path(model)
    metadata = read_metadata(path)
    try:
        with quiet_torchscript():
            module = torch.jit.load(str(path), map_location=device)
    except Exception as err:  # torch raises RuntimeError with multi-line text
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        module = rebuilt_module(path, metadata, device)
        if module is None:
            raise ModelFileError(f"{path}: corrupted model file, TorchScript cannot load it ({first})") from None
    module.eval()
    return ModelFile(module=module, metadata=metadata, path=path, sha256=file_sha256(path))
