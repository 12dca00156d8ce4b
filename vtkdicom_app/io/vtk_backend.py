"""The second route: vtkDICOMImageReader, with its geometry corrected from the headers.

vtkDICOMImageReader drops the patient orientation and direction, applies the first file's
rescale to every slice, and fills its buffer bottom-up: rows and slices come out reversed
(measured with VTK 9.7 on axial, coronal, sagittal and oblique series, head and feet first). This backend lets it decode the pixels
of an uncompressed series, then puts rows and slices back in the order of the stack that
:mod:`vtkdicom_app.io.series` sorted, and applies the per-slice rescale, so it returns the
same Volume as the default backend.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np

from vtkdicom_app.errors import VtkDicomError
from vtkdicom_app.io.pixels import OutputKind, _fix_bits, _stored_dtype, check_memory, choose_output
from vtkdicom_app.io.records import FrameRecord
from vtkdicom_app.io.series import Stack

__all__ = ["read_with_vtk"]


def read_with_vtk(stack: Stack) -> np.ndarray:
    """Decode a stack with vtkDICOMImageReader; return ``(k, j, i)`` real-world values.

    Parameters
    ----------
    stack : Stack
        A sorted single-frame stack with native (uncompressed little-endian) pixel data.

    Returns
    -------
    numpy.ndarray
        Same values and order as :func:`vtkdicom_app.io.pixels.read_frames`.

    Raises
    ------
    VtkDicomError
        Compressed or multi-frame data (use the default backend), or VTK read nothing.
    """
    from vtkmodules.util.numpy_support import vtk_to_numpy
    from vtkmodules.vtkIOImage import vtkDICOMImageReader

    from vtkdicom_app.pipeline import run_update

    records = stack.records
    colour = str(records[0].file.tags.get("SamplesPerPixel") or 1) != "1"
    if colour or any(not r.file.fast_native for r in records) or len({r.file.path for r in records}) != len(records):
        raise VtkDicomError(
            "backend='vtk' reads uncompressed single-frame grey-scale series only (vtkDICOMImageReader has no "
            "decoders for compressed, gzip, colour, mosaic or multi-frame data); use the default backend"
        )
    shape = stack.shape
    kind = choose_output(records)
    check_memory(shape, 4, "the volume (vtk backend)")
    with tempfile.TemporaryDirectory(prefix="vtkdicom_app_vtk_") as tmp:
        # The reader takes a whole folder: give it exactly this stack's files.
        for n, rec in enumerate(records):
            os.symlink(os.path.abspath(rec.file.path), os.path.join(tmp, f"slice{n:06d}.dcm"))
        reader = vtkDICOMImageReader()
        reader.SetDirectoryName(tmp)
        image = run_update(reader, "reading DICOM with vtkDICOMImageReader")
        ni, nj, nk = image.GetDimensions()
        scalars = image.GetPointData().GetScalars()
        if scalars is None or (nk, nj, ni) != shape:
            raise VtkDicomError(f"vtkDICOMImageReader read {(nk, nj, ni)} voxels, expected {shape}")
        raw = vtk_to_numpy(scalars).reshape(nk, nj, ni)
        vtk_slope = float(reader.GetRescaleSlope()) or 1.0
        vtk_offset = float(reader.GetRescaleOffset())
        first_vtk = np.array(reader.GetImagePositionPatient(), dtype=np.float64)
    # The reader sorts files along the normal (ascending, like us: it reports the first
    # file's position) but fills its buffer bottom-up, so rows AND slices come out reversed.
    if np.linalg.norm(first_vtk - np.asarray(records[0].ipp, dtype=np.float64)) > 1e-3:
        raise VtkDicomError(
            f"vtkDICOMImageReader sorted the slices differently (first position {first_vtk.tolist()}, expected {list(records[0].ipp)}); use the default backend"  # type: ignore[arg-type]
        )
    raw = raw[::-1, ::-1, :]
    # The reader applies the first file's rescale to every slice: undo it, then apply each
    # slice's own rescale.
    stored_all = np.rint((raw.astype(np.float64) - vtk_offset) / vtk_slope)
    out = np.empty(shape, np.float32 if kind is OutputKind.FLOAT32 else np.int16)
    for k, rec in enumerate(records):
        stored = stored_all[k].astype(_stored_dtype(rec.file))
        _fix_bits(stored, rec.file)
        values = stored.astype(np.float64) * rec.slope + rec.intercept
        if kind is not OutputKind.FLOAT32 and (values.min() < -32768 or values.max() > 32767):
            return _as_float(stored_all, records, shape)
        out[k] = values
    return out


def _as_float(stored_all: np.ndarray, records: list[FrameRecord], shape: tuple[int, int, int]) -> np.ndarray:
    out = np.empty(shape, np.float32)
    for k, rec in enumerate(records):
        stored = stored_all[k].astype(_stored_dtype(rec.file))
        _fix_bits(stored, rec.file)
        out[k] = stored.astype(np.float64) * rec.slope + rec.intercept
    return out
