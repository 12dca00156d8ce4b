"""One exception hierarchy and the warning classes of vtkdicom_app.

Every error raised on purpose by the library derives from :class:`VtkDicomError`, so a
caller (the CLI, the viewer, a batch job) can catch one class and show its message, which
always says what went wrong and, where there is one, the fix.

Four classes are not errors of the data and deliberately do not derive from
:class:`VtkDicomError`, so that ``except VtkDicomError`` never swallows them:
:class:`Cancelled` (the user stopped the work), :class:`UsageError` (a command line that
cannot work, exit code 2) and the header reader's internal signals :class:`NotDicom` and
:class:`NeedsPydicom`, which the loader turns into warnings or a pydicom read and which
never reach a caller.
"""

from __future__ import annotations

__all__ = [
    "VtkDicomError",
    "NotDicomError",
    "DicomReadError",
    "DecoderMissingError",
    "SeriesNotFoundError",
    "GeometryError",
    "MemoryLimitError",
    "PipelineError",
    "ColourVolumeError",
    "SingleSliceError",
    "MeshError",
    "MosaicError",
    "Cancelled",
    "UsageError",
    "NotDicom",
    "NeedsPydicom",
    "VtkDicomWarning",
    "GeometryWarning",
    "SkippedFileWarning",
    "SeriesSplitWarning",
    "ModalityWarning",
]


class VtkDicomError(Exception):
    """Base class of every error raised by vtkdicom_app."""


class NotDicomError(VtkDicomError):
    """A path holds no DICOM data (no file recognised as DICOM by its content)."""


class DicomReadError(VtkDicomError):
    """A DICOM file could not be read or its pixel data is inconsistent with its header."""


class DecoderMissingError(DicomReadError):
    """The pixel data uses a transfer syntax for which no decoder is installed.

    The message names the transfer syntax and the package to install.
    """


class SeriesNotFoundError(VtkDicomError):
    """The requested series UID is not among the series found."""


class GeometryError(VtkDicomError):
    """The geometry tags are invalid (non-orthogonal orientation, varying sizes, ...)."""


class MemoryLimitError(VtkDicomError):
    """The volume would need more memory than the configured limit allows."""


class PipelineError(VtkDicomError):
    """A VTK pipeline reported an error while updating."""


class ColourVolumeError(VtkDicomError):
    """A colour (RGB) volume was given to an operation that needs grey-scale values.

    Surfaces, volume rendering and value statistics need one value per voxel; colour
    volumes (``array`` of shape ``(k, j, i, 3)``, uint8) show in slice views and ``mpr`` only.
    """


class SingleSliceError(VtkDicomError):
    """A single-slice series (a scout, a projection image) has only its own plane: no other
    MPR plane and no surface can be made from it."""


class MeshError(VtkDicomError):
    """The mesh cannot be made or written as asked (empty, not watertight, ...)."""


class MosaicError(Exception):
    """A mosaic that cannot be unpacked; the message names the missing or absurd tag.

    The loader reports it as the reason a series cannot be loaded (it never escapes
    :func:`vtkdicom_app.io.loader.scan`).
    """


class Cancelled(Exception):
    """Raised from a progress callback when the user cancels.

    Not a :class:`VtkDicomError`: a handler of library errors must let it through.
    """


class UsageError(Exception):
    """A command line that cannot work, found before any slow work: exit 2, one line."""


class NotDicom(Exception):
    """Internal signal of the header reader: the bytes are not DICOM (the reason is the message)."""


class NeedsPydicom(Exception):
    """Internal signal of the header reader: the file is DICOM but the fast reader does not
    handle it; pydicom must read it."""


class VtkDicomWarning(UserWarning):
    """Base class of every warning emitted by vtkdicom_app."""


class GeometryWarning(VtkDicomWarning):
    """Geometry is unusual or incomplete: gaps, irregular spacing, gantry tilt, unknown."""


class SkippedFileWarning(VtkDicomWarning):
    """A file was skipped (not DICOM, truncated, unreadable); the rest loads."""


class SeriesSplitWarning(VtkDicomWarning):
    """Files sharing a SeriesInstanceUID were split into several stacks, or duplicates dropped."""


class ModalityWarning(VtkDicomWarning):
    """A CT default (HU threshold or preset) was about to be used on an MR or PET volume; the
    modality's own default (Otsu's threshold, preset ``mr-auto``) is used instead."""
