"""DICOM input: the only package that imports pydicom (lazily, only when needed).

Public names: :func:`scan`, :func:`load`, :class:`SeriesInfo`, :class:`Backend`.
"""

from vtkdicom_app.io.loader import Backend, SeriesInfo, load, load_sequence, scan

__all__ = ["Backend", "SeriesInfo", "load", "load_sequence", "scan"]
