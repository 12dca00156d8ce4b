"""Small DICOM image files with chosen pixels and attributes, written with pydicom.

The CT and MR phantoms model patients; this module writes the bare files that unit tests of
the readers need: any pixel array (grey or colour, one or several frames, any integer
dtype), any transfer syntax pydicom can encode, with or without preamble and file meta,
and any attributes on top::

    import numpy as np
    from vtkdicom_app.testing.images import write_image
    write_image("a.dcm", np.arange(12, dtype=np.uint16).reshape(3, 4), RescaleIntercept="-1024")
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    RLELossless,
    generate_uid,
)

__all__ = ["SECONDARY_CAPTURE", "write_image", "uid_for"]

SECONDARY_CAPTURE = UID("1.2.840.10008.5.1.4.1.1.7")
_NATIVE = frozenset({ExplicitVRLittleEndian, ImplicitVRLittleEndian, DeflatedExplicitVRLittleEndian, ExplicitVRBigEndian})
_UID_ROOT = "1.2.826.0.1.3680043.8.498."


def uid_for(*parts: object) -> UID:
    """A UID derived from ``parts`` (the same parts give the same UID)."""
    return generate_uid(prefix=_UID_ROOT, entropy_srcs=[str(p) for p in parts])


def _pixel_attributes(ds: Dataset, pixels: np.ndarray, colour: bool) -> None:
    if pixels.dtype.kind not in "iu" or pixels.dtype.itemsize not in (1, 2, 4):
        raise ValueError(f"pixels must be 8, 16 or 32-bit integers, got {pixels.dtype}")
    frames = pixels.shape[0] if pixels.ndim == (4 if colour else 3) else 1
    rows, columns = pixels.shape[-3:-1] if colour else pixels.shape[-2:]
    ds.Rows, ds.Columns = int(rows), int(columns)
    bits = pixels.dtype.itemsize * 8
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = bits, bits, bits - 1
    ds.PixelRepresentation = 1 if pixels.dtype.kind == "i" else 0
    if colour:
        ds.SamplesPerPixel = 3
        ds.PhotometricInterpretation = "RGB"
        ds.PlanarConfiguration = 0
    else:
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
    if frames > 1 or pixels.ndim == (4 if colour else 3):
        ds.NumberOfFrames = frames


def write_image(
    path: str | os.PathLike[str],
    pixels: np.ndarray,
    *,
    transfer_syntax: str = ExplicitVRLittleEndian,
    preamble: bool = True,
    file_meta: bool = True,
    planar_configuration: int = 0,
    **attributes: Any,
) -> Path:
    """Write one DICOM image file holding ``pixels``.

    Parameters
    ----------
    path : path
        The file to write (its folder must exist).
    pixels : numpy.ndarray
        Integer stored values: ``(rows, columns)`` or ``(frames, rows, columns)`` for grey
        images, ``(rows, columns, 3)`` or ``(frames, rows, columns, 3)`` RGB for colour
        (uint8). Rows, Columns, Bits*, PixelRepresentation, SamplesPerPixel,
        PhotometricInterpretation and NumberOfFrames follow from it.
    transfer_syntax : str
        Any UID pydicom can write: the native ones, or a compressed one whose encoder is
        installed (RLE, JPEG-LS, JPEG 2000).
    preamble : bool
        Write the 128-byte preamble and ``DICM`` (False: the file starts with the meta group).
    file_meta : bool
        Write the file meta group (False: a bare dataset, implicit or explicit VR LE).
    planar_configuration : int
        For colour pixels: 0 stores R, G, B per pixel, 1 stores all R, then all G, then all B.
    **attributes
        Attributes by keyword, set last (they override the defaults, including the pixel
        description, e.g. ``BitsStored=12``).

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ValueError
        Pixels that are not 8/16/32-bit integers, or a planar configuration other than 0/1.
    """
    out = Path(path)
    arr = np.asarray(pixels)
    colour = arr.ndim in (3, 4) and arr.shape[-1] == 3 and arr.dtype == np.uint8 and attributes.get("SamplesPerPixel", 3) == 3
    if planar_configuration not in (0, 1):
        raise ValueError(f"planar_configuration must be 0 or 1, got {planar_configuration!r}")
    ds = Dataset()
    ds.SOPClassUID = SECONDARY_CAPTURE
    ds.SOPInstanceUID = uid_for("sop", out.name)
    ds.StudyInstanceUID = uid_for("study")
    ds.SeriesInstanceUID = uid_for("series")
    ds.Modality = "OT"
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    ds.ImagePositionPatient = [0, 0, 0]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.PixelSpacing = [1, 1]
    _pixel_attributes(ds, arr, colour)
    if colour:
        ds.PlanarConfiguration = planar_configuration
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)
    ts = UID(transfer_syntax)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ts if ts in _NATIVE else ExplicitVRLittleEndian
    ds.file_meta = meta
    if ts in _NATIVE:
        data = np.ascontiguousarray(arr)
        if colour and planar_configuration == 1:
            data = np.ascontiguousarray(np.moveaxis(data, -1, -3))  # (..., 3, rows, columns)
        if ts == ExplicitVRBigEndian:
            data = data.astype(data.dtype.newbyteorder(">"))
        raw = data.tobytes()
        ds.PixelData = raw + (b"\x00" if len(raw) % 2 else b"")
        ds["PixelData"].VR = "OB" if arr.dtype.itemsize == 1 else "OW"
        meta.TransferSyntaxUID = ts
    else:
        ds.PixelData = np.ascontiguousarray(arr).tobytes()
        ds["PixelData"].VR = "OB" if arr.dtype.itemsize == 1 else "OW"
        # pydicom's own RLE encoder: gdcm's aborts the process on some colour images
        plugin = "pydicom" if ts == RLELossless else ""
        ds.compress(ts, arr, encoding_plugin=plugin, generate_instance_uid=False)
    if not file_meta:
        del ds.file_meta
        implicit = ts == ImplicitVRLittleEndian
        ds.save_as(out, implicit_vr=implicit, little_endian=True, enforce_file_format=False)
        return out
    if preamble:
        ds.save_as(out, enforce_file_format=True)
        return out
    ds.preamble = None
    ds.save_as(out, enforce_file_format=False)
    written = out.read_bytes()
    if written[128:132] == b"DICM":  # pydicom wrote a preamble anyway: drop it
        out.write_bytes(written[132:])
    return out
