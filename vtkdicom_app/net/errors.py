"""Errors of the PACS client: each message is one line naming the server and what to check.

Every class derives from :class:`vtkdicom_app.errors.VtkDicomError`, so the command line and
the viewer show them like any other library error. Messages never contain secrets (tokens,
passwords): servers are named by their configuration name, host, port, AE titles or URL
without credentials or query string.
"""

from __future__ import annotations

from vtkdicom_app.errors import VtkDicomError

__all__ = [
    "PacsError",
    "ServerConfigError",
    "PacsConnectionError",
    "TransferTimeoutError",
    "AssociationRejectedError",
    "RetrieveRefusedError",
    "QueryFailedError",
    "UnexpectedInstanceError",
    "IncompleteRetrieveError",
    "PacsAuthError",
    "PacsNotFoundError",
]


class PacsError(VtkDicomError):
    """Base class of every error raised by :mod:`vtkdicom_app.net`."""


class ServerConfigError(PacsError):
    """The server configuration (servers.toml or command-line options) is invalid or incomplete."""


class PacsConnectionError(PacsError):
    """The server could not be reached, or the connection was lost during an operation."""


class TransferTimeoutError(PacsConnectionError):
    """The server stopped answering for longer than the configured timeout."""


class AssociationRejectedError(PacsError):
    """The DICOM server rejected the association (usually an AE title it does not know)."""


class RetrieveRefusedError(PacsError):
    """The server refused the retrieval (C-GET or C-MOVE not allowed for this AE title)."""


class QueryFailedError(PacsError):
    """A C-FIND or QIDO-RS search failed on the server, or the query itself is invalid."""


class UnexpectedInstanceError(PacsError):
    """The server sent an instance that was not asked for (another study or series)."""


class IncompleteRetrieveError(PacsError):
    """The retrieval ended with instances missing (failed sub-operations)."""


class PacsAuthError(PacsError):
    """A DICOMweb server answered 401 or 403: missing or wrong credentials."""


class PacsNotFoundError(PacsError):
    """A DICOMweb server answered 404, or nothing on the server matches the request."""
