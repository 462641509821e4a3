"""Exceptions raised by md_orderml, each carrying a one-line message that names the problem."""


class OrderMLError(Exception):
    """Base class of md_orderml's errors."""


class InputError(OrderMLError, ValueError):
    """Bad input data: NaN positions, empty frames, a too-small box, unknown types, broken files."""


class ModelFileError(OrderMLError, ValueError):
    """A model file that is missing, corrupted, foreign (not md_orderml's) or too new."""
