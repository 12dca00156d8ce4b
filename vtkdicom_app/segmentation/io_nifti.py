"""NIfTI labelmaps (nibabel): one label per voxel, RAS affine, names and colours in a colour table.

The labelmap's affine is the grid's LPS affine with x and y negated (NIfTI's world is RAS),
written as both qform and sform (code 1, scanner), so it opens in place over the series in
Slicer, ITK-SNAP, FSL or nibabel. Labels are uint8 (uint16 past 255 segments): segment ``n``
of the model gets label ``n + 1``.

A labelmap cannot hold overlapping segments: saving them is refused with the fix (save as
``.seg.nrrd`` or DICOM SEG, or subtract one from the other). Names and colours go to a Slicer
colour table next to the image (``OUT.nii.gz`` -> ``OUT.ctbl``, lines ``label name R G B A``,
0..255), which :func:`load_nifti` reads back when it is there.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from vtkdicom_app.atomic import atomic_path
from vtkdicom_app.geometry import LPS_TO_RAS
from vtkdicom_app.segmentation.geometry import Geometry, embed
from vtkdicom_app.segmentation.io_nrrd import SegmentationFileError, _positive
from vtkdicom_app.segmentation.model import SegmentationModel

__all__ = ["save_nifti", "load_nifti", "color_table_path"]



def color_table_path(path: str | os.PathLike[str]) -> Path:
    """The colour table that goes with a labelmap: ``X.nii.gz`` / ``X.nii`` -> ``X.ctbl``."""
    p = Path(path)
    name = p.name
    for suffix in (".nii.gz", ".nii"):
        if name.lower().endswith(suffix):
            return p.with_name(name[: -len(suffix)] + ".ctbl")
    return p.with_name(name + ".ctbl")


def save_nifti(model: SegmentationModel, path: str | os.PathLike[str], *, color_table: bool = True) -> Path:
    """Write the segments as one NIfTI labelmap (and its colour table), atomically.

    Parameters
    ----------
    model : SegmentationModel
    path : str or os.PathLike
        ``.nii.gz`` or ``.nii``.
    color_table : bool
        Also write ``X.ctbl`` with each label's name and colour.

    Returns
    -------
    Path

    Raises
    ------
    SegmentationFileError
        No segment, or segments that overlap (named).
    """
    import nibabel as nib

    if not len(model):
        raise SegmentationFileError("the segmentation has no segment: nothing to save; add one first")
    labels, overlapping = model.labelmap()
    if overlapping:
        names = ", ".join(repr(model.segment(s).name) for s in overlapping)
        raise SegmentationFileError(
            f"segment(s) {names} overlap earlier ones: a NIfTI labelmap holds one label per voxel; "
            "save as .seg.nrrd or .dcm (DICOM SEG), which keep overlaps, or subtract one segment from the other"
        )
    geo = model.geometry
    affine = np.eye(4)
    affine[:3, :3] = LPS_TO_RAS @ geo.affine[:3, :3]
    affine[:3, 3] = LPS_TO_RAS @ np.asarray(geo.origin)
    img = nib.Nifti1Image(np.ascontiguousarray(labels.transpose(2, 1, 0)), affine)
    img.set_qform(affine, code=1)
    img.set_sform(affine, code=1)
    img.header.set_xyzt_units("mm")
    img.header.set_intent("label", name="segmentation")
    if color_table:
        lines = ["# Color table file written by vtkdicom_app", f"# {len(model) + 1} values", "0 Background 0 0 0 0"]
        for n, seg in enumerate(model.segments, start=1):
            r, g, b = (int(round(c * 255)) for c in seg.color)
            lines.append(f"{n} {seg.name.replace(' ', '_')} {r} {g} {b} 255")
        with atomic_path(color_table_path(path), suffix=".ctbl") as tmp:
            Path(tmp).write_text("\n".join(lines) + "\n", encoding="utf-8")
    suffix = ".nii.gz" if os.fspath(path).lower().endswith(".gz") else ".nii"
    with atomic_path(path, suffix=suffix) as tmp:
        nib.save(img, tmp)
    return Path(path)


def _read_color_table(path: Path) -> dict[int, tuple[str, tuple[float, float, float]]]:
    out: dict[int, tuple[str, tuple[float, float, float]]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if not parts or parts[0].startswith("#"):
            continue
        try:
            label = int(parts[0])
            r, g, b = (int(v) / 255.0 for v in parts[2:5])
        except (ValueError, IndexError):
            raise SegmentationFileError(f"{path}: line {line!r} is not 'label name R G B A'; fix or remove the colour table") from None
        if label:
            out[label] = (parts[1], (r, g, b))
    return out


def load_nifti(path: str | os.PathLike[str], *, reference: Any = None) -> SegmentationModel:
    """Read a NIfTI labelmap: one segment per label value (names and colours from ``X.ctbl``).

    Parameters
    ----------
    path : str or os.PathLike
    reference : Volume or Geometry, optional
        The open series; the labelmap must lie on its grid (or a part of it).

    Raises
    ------
    SegmentationFileError
        Not a 3D integer image.
    GridMismatchError
        Another grid than ``reference``'s.
    """
    import nibabel as nib

    name = os.fspath(path)
    try:
        img = nib.load(name)
        if not isinstance(img, nib.Nifti1Image):  # Nifti2Image is a Nifti1Image too
            raise TypeError(f"a {type(img).__name__}, not a NIfTI image")
        data = np.asanyarray(img.dataobj)
    except Exception as exc:  # nibabel raises many kinds
        raise SegmentationFileError(f"{name}: cannot read it as NIfTI ({exc})") from exc
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise SegmentationFileError(f"{name}: a {data.ndim}D image is not a labelmap (3D integer labels)")
    if data.dtype.kind == "f":
        if not np.all(np.equal(np.mod(data, 1), 0)):
            raise SegmentationFileError(f"{name}: holds non-integer values; a labelmap stores integer labels")
        data = data.astype(np.int64)
    ras = np.asarray(img.affine, dtype=np.float64)
    lps = np.eye(4)
    lps[:3, :3] = LPS_TO_RAS @ ras[:3, :3]
    lps[:3, 3] = LPS_TO_RAS @ ras[:3, 3]
    arrays, lps = _positive([np.ascontiguousarray(data.transpose(2, 1, 0))], lps)
    labels = arrays[0]
    file_geo = Geometry.from_affine(labels.shape, lps)
    table_path = color_table_path(name)
    table = _read_color_table(table_path) if table_path.exists() else {}
    values = [int(v) for v in np.unique(labels) if v != 0]
    masks = [labels == v for v in values]
    from vtkdicom_app.segmentation.io_files import reference_geometry

    target_geo, volume = reference_geometry(reference)
    if target_geo is not None:
        masks = embed(masks, file_geo, target_geo, what=name)
        geo = target_geo
    else:
        geo = file_geo
    model = SegmentationModel(geo, volume=volume)
    for v, mask in zip(values, masks):
        seg_name, color = table[v] if v in table else (f"Segment_{v}", None)
        model.add_segment(seg_name, color, segment_id=f"Segment_{v}", mask=mask)
    model.clear_history()
    return model
