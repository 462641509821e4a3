"""Exceptions raised by md_orderml, each carrying a one-line message that names the problem."""


class OrderMLError(Exception):
    """Base class of md_orderml's errors."""


class InputError(OrderMLError, ValueError):
    """Bad input data: NaN positions, empty frames, a too-small box, unknown types, broken files."""


class ModelFileError(OrderMLError, ValueError):
    """A model file that is missing, corrupted, foreign (not md_orderml's) or too new."""


class ReportedElsewhere(OrderMLError):
    """An error that another MPI rank reports (this rank only exits with its status, silently).

    ``md-orderml`` prints the error once, on rank 0; the other ranks raise this so that
    every rank ends with the same exit status without repeating the message.
    """
