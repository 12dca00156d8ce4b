"""Siemens mosaics: one stored image holding a whole volume as a grid of tiles.

A mosaic file (ImageType contains ``MOSAIC``) stores ``n`` slices of ``r x c`` pixels as one
``R x C`` image, tiles left to right and top to bottom, ``ceil(sqrt(n))`` tiles per side. Its
ImagePositionPatient is the position of the top-left pixel of the *whole* image as if it were
one slice, so the first tile's true position is shifted by half the unused rows and columns
(``(R - r) / 2`` rows along the column direction and ``(C - c) / 2`` columns along the row
direction). Tiles are stacked along the CSA header's SliceNormalVector, one slice step apart
(SpacingBetweenSlices, else SliceThickness). This is the rule nibabel's ``MosaicWrapper``
and the usual converters follow; the tests check the result against nibabel on real files.

Each tile becomes one :class:`~vtkdicom_app.io.records.FrameRecord` with its own position and
a ``tile`` window, so grouping, sorting, 4D ordering and decoding treat mosaic slices exactly
like slices from separate files.
"""

from __future__ import annotations

import math
import os

import numpy as np

from vtkdicom_app.errors import MosaicError
from vtkdicom_app.io.records import FrameRecord, declared_slice_step
from vtkdicom_app.io.vendor import csa_info, private_value
from vtkdicom_app.notices import NoticeCode, notice

__all__ = ["is_mosaic", "unpack_mosaic", "MosaicError"]


def is_mosaic(rec: FrameRecord) -> bool:
    """True when the image's ImageType says MOSAIC (Siemens) or UIH stored a mosaic."""
    image_type = rec.file.tags.get("ImageType") or ()
    if isinstance(image_type, str):
        image_type = (image_type,)
    return any(str(t).strip().upper() == "MOSAIC" for t in image_type)


def unpack_mosaic(rec: FrameRecord) -> tuple[list[FrameRecord], list[str]]:
    """Split a mosaic frame into one record per tile, each with its true position.

    Parameters
    ----------
    rec : FrameRecord
        The stored mosaic frame (position = the mosaic's top-left corner).

    Returns
    -------
    records : list of FrameRecord
        One per slice, in tile order, with ``tile`` set.
    notes : list of str
        Fallbacks taken (no CSA header, slice step guessed ...).

    Raises
    ------
    MosaicError
        No NumberOfImagesInMosaic anywhere, a tile grid that does not divide the image, or
        missing geometry; the message names the tag.
    """
    info = rec.file
    tags = info.tags
    name = os.path.basename(info.path)
    notes: list[str] = []
    manufacturer = str(tags.get("Manufacturer") or "").upper()
    csa = csa_info(tags)
    info.csa = csa
    n: int | None = csa.n_mosaic if csa is not None else None
    if csa is not None and csa.problem:
        notes.append(f"{name}: {csa.problem}; using the standard and (0019,xx0A) tags")
    if n is None:
        raw = private_value(tags, 0x0019, "SIEMENS MR HEADER", 0x0A, "US")
        if isinstance(raw, (tuple, list)):
            raw = raw[0] if raw else None
        if isinstance(raw, (int, float)):
            n = int(raw)
            if csa is None:
                notes.append(f"{name}: mosaic without a CSA image header (0029,1010); NumberOfImagesInMosaic from (0019,100A)")
    if n is None:
        if "UIH" in manufacturer or "UNITED IMAGING" in manufacturer:
            raise MosaicError(
                "UIH mosaic: its tile count and slice positions are in UIH private tags, which this loader "
                "does not read; export the series with one image per slice"
            )
        raise MosaicError(
            "mosaic (ImageType MOSAIC) without NumberOfImagesInMosaic in the Siemens CSA image header (0029,1010) or (0019,100A): its tiles cannot be unpacked"
        )
    if not 1 <= n <= 4096:
        raise MosaicError(f"NumberOfImagesInMosaic = {n} is not plausible (CSA header (0029,1010) / (0019,100A))")
    per_side = int(math.ceil(math.sqrt(n)))
    rows, columns = info.rows, info.columns
    if rows % per_side or columns % per_side:
        raise MosaicError(f"Rows x Columns {rows} x {columns} is not a grid of {per_side} x {per_side} tiles (NumberOfImagesInMosaic = {n})")
    th, tw = rows // per_side, columns // per_side
    if rec.ipp is None or rec.iop is None or rec.pixel_spacing is None:
        missing = [t for t, v in (("ImagePositionPatient", rec.ipp), ("ImageOrientationPatient", rec.iop), ("PixelSpacing", rec.pixel_spacing)) if v is None]
        raise MosaicError(f"mosaic without {', '.join(missing)}: its slices cannot be placed")
    ipp = np.asarray(rec.ipp, dtype=np.float64)
    r = np.asarray(rec.iop[:3], dtype=np.float64)
    c = np.asarray(rec.iop[3:], dtype=np.float64)
    normal = np.cross(r, c)
    norm = float(np.linalg.norm(normal))
    if norm < 1e-6:
        raise MosaicError("ImageOrientationPatient (0020,0037) of the mosaic has parallel row and column directions")
    normal /= norm
    sign = 1.0
    if csa is not None and csa.slice_normal is not None:
        dot = float(np.dot(csa.slice_normal, normal))
        if abs(abs(dot) - 1.0) > 1e-2:
            notes.append(
                f"{name}: the CSA SliceNormalVector {tuple(round(v, 4) for v in csa.slice_normal)} is not perpendicular "
                "to the image plane; tiles stacked along the row x column normal"
            )
        elif dot < 0:
            sign = -1.0
    elif csa is None or csa.slice_normal is None:
        notes.append(f"{name}: no SliceNormalVector in the CSA header; mosaic tiles assumed stacked along row x column")
    step = declared_slice_step(rec)
    if step is None:
        step = 1.0
        notes.append(f"{name}: mosaic without SpacingBetweenSlices or SliceThickness; slice step set to 1 mm")
    row_sp, col_sp = rec.pixel_spacing
    first = ipp + c * row_sp * (rows - th) / 2.0 + r * col_sp * (columns - tw) / 2.0
    out: list[FrameRecord] = []
    for t in range(n):
        pos = first + t * step * sign * normal
        tile = ((t // per_side) * th, (t % per_side) * tw, th, tw)
        out.append(
            FrameRecord(
                info,
                rec.frame,
                (float(pos[0]), float(pos[1]), float(pos[2])),
                rec.iop,
                rec.pixel_spacing,
                rec.slope,
                rec.intercept,
                rec.split,
                rec.instance,
                tile,
            )
        )
    return out, [notice(n, NoticeCode.FILE_NOTE) for n in notes]
