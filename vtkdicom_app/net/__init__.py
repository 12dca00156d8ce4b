"""Open studies from a PACS: DIMSE (pynetdicom) and DICOMweb (dicomweb-client).

* :func:`echo`: C-ECHO, or a one-result QIDO-RS search.
* :func:`find`: C-FIND / QIDO-RS at patient, study or series level with the usual filters
  (:class:`Query`), returning :class:`PatientRecord`, :class:`StudyRecord` or
  :class:`SeriesRecord`.
* :func:`retrieve`: C-GET (default), C-MOVE to a storage SCP started here, or WADO-RS into
  the local study cache (``CACHE/<study>/<series>/<sop>.dcm``, atomic, resumable); returns
  a path-like :class:`RetrieveResult` that ``vtkdicom_app.load`` reads.
* Servers are named in ``servers.toml`` (:func:`load_servers`, :class:`ServerConfig`);
  secrets stay in environment variables.

Importing this package imports neither pydicom nor pynetdicom: they load on first use.

Examples
--------
>>> import vtkdicom_app as vda                                            # doctest: +SKIP
>>> from vtkdicom_app import net                                          # doctest: +SKIP
>>> pacs = net.ServerConfig.adhoc(host="127.0.0.1", port=4242, called_aet="ORTHANC")  # doctest: +SKIP
>>> studies = net.find(pacs, patient_id="PHANTOM*", study_date="20260101-")  # doctest: +SKIP
>>> vol = vda.load(net.retrieve(pacs, studies[0].study_uid))             # doctest: +SKIP
"""

from __future__ import annotations

from vtkdicom_app.net.api import echo, find, list_instances, list_series
from vtkdicom_app.net.cache import StudyCache
from vtkdicom_app.net.config import (
    RetrieveMethod,
    ServerConfig,
    ServersFile,
    config_path,
    default_cache_dir,
    get_server,
    load_servers,
    save_servers,
)
from vtkdicom_app.net.errors import (
    AssociationRejectedError,
    IncompleteRetrieveError,
    PacsAuthError,
    PacsConnectionError,
    PacsError,
    PacsNotFoundError,
    QueryFailedError,
    RetrieveRefusedError,
    ServerConfigError,
    TransferTimeoutError,
    UnexpectedInstanceError,
)
from vtkdicom_app.net.query import (
    DateRange,
    InstanceRecord,
    PatientRecord,
    Query,
    QueryLevel,
    SeriesRecord,
    StudyRecord,
    parse_date_range,
)
from vtkdicom_app.net.retrieve import RetrieveResult, retrieve

__all__ = [
    "echo",
    "find",
    "list_series",
    "list_instances",
    "retrieve",
    "RetrieveResult",
    "RetrieveMethod",
    "StudyCache",
    "ServerConfig",
    "ServersFile",
    "config_path",
    "default_cache_dir",
    "get_server",
    "load_servers",
    "save_servers",
    "Query",
    "QueryLevel",
    "DateRange",
    "parse_date_range",
    "PatientRecord",
    "StudyRecord",
    "SeriesRecord",
    "InstanceRecord",
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
