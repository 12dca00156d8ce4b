"""MR phantoms as scanners really write them: Siemens mosaics and classic 4D series.

Known answers for the loader's hardest families (written with pydicom, the model of
:mod:`vtkdicom_app.testing.phantom`):

* :func:`write_mosaic`: Siemens mosaic files (ImageType MOSAIC, a CSA image header with
  NumberOfImagesInMosaic, SliceNormalVector, B_value and DiffusionGradientDirection, the
  (0019,xx0A) count), one file per volume, ascending or descending slice order, with the
  CSA header present, missing, damaged or absent altogether; optionally gzip-compressed.
* :func:`write_classic_4d`: one file per image, several volumes repeating the same positions,
  told apart the way each vendor does it (:class:`Classic4DStyle`).

Every volume has its own sphere value, so a test can tell which volume it got back.
(``vtkdicom_app.phantom_mr`` re-exports this module.)
"""

from __future__ import annotations

import dataclasses
import enum
import gzip
import math
import os
import random
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import UID, ExplicitVRLittleEndian

from vtkdicom_app.testing.phantom import (
    PhantomOrientation,
    PhantomResult,
    PhantomSpec,
    _base_dataset,
    _directions,
    _ds,
    _slice_values,
    _uid,
    make_spec,
    write_phantom,
)

__all__ = [
    "Classic4DResult",
    "Classic4DStyle",
    "CsaMode",
    "MosaicResult",
    "csa_header_bytes",
    "write_classic_4d",
    "write_mosaic",
]

MR_IMAGE_STORAGE = UID("1.2.840.10008.5.1.4.1.1.4")


def csa_header_bytes(fields: Sequence[tuple[str, str, Sequence[Any]]]) -> bytes:
    """A Siemens CSA2 ("SV10") header holding ``(name, vr, values)`` fields.

    The layout is the one nibabel's :mod:`nibabel.nicom.csareader` reads: the ``SV10`` magic,
    the tag count, then per tag a 64-byte name, VM, VR, SyngoDT, item count, and per item
    four int32 (the item length second) followed by the value as text, padded to 4 bytes.
    """
    out = bytearray(b"SV10" + b"\x04\x03\x02\x01" + struct.pack("<2I", len(fields), 77))
    for name, vr, values in fields:
        out += struct.pack("<64si4s3i", name.encode("ascii"), len(values), vr.encode("ascii"), 0, len(values), 77)
        for v in values:
            text = (f"{v:.8f}" if isinstance(v, float) else str(v)).encode("ascii") + b"\x00"
            out += struct.pack("<4i", len(text), len(text), 77, len(text))
            out += text + b"\x00" * ((4 - len(text) % 4) % 4)
    return bytes(out)


class CsaMode(enum.Enum):
    """What a mosaic carries to say how many tiles it holds."""

    FULL = "full"  # CSA image header and (0019,xx0A)
    NO_CSA = "no-csa"  # only (0019,xx0A), no CSA header (anonymised files often look like this)
    DAMAGED = "damaged"  # a CSA header of garbage bytes, and (0019,xx0A)
    NOTHING = "nothing"  # neither: the mosaic cannot be unpacked


@dataclasses.dataclass
class MosaicResult:
    """What :func:`write_mosaic` wrote.

    Attributes
    ----------
    outdir : Path
    files : list of Path
        One file per volume, in acquisition order.
    spec : PhantomSpec
    arrays : list of numpy.ndarray
        The expected ``(k, j, i)`` volume of each file, slices ascending along ``row x column``.
    origin : tuple of float
        LPS centre of voxel (0, 0, 0) of the expected volumes.
    spacing : tuple of float
        ``(di, dj, dk)``.
    direction : numpy.ndarray
        3x3, columns r, c, n.
    bvalues : list of float
    gradients : list of (tuple of float or None)
    mosaic_shape : tuple of int
        Rows and columns of the stored mosaic image.
    """

    outdir: Path
    files: list[Path]
    spec: PhantomSpec
    arrays: list[np.ndarray]
    origin: tuple[float, float, float]
    spacing: tuple[float, float, float]
    direction: np.ndarray
    bvalues: list[float]
    gradients: list[tuple[float, float, float] | None]
    mosaic_shape: tuple[int, int]


def _save(ds: Dataset, path: Path, compress: bool) -> Path:
    ds.save_as(path, enforce_file_format=True)
    if compress:
        gz = path.with_name(path.name + ".gz")
        with open(path, "rb") as src, gzip.open(gz, "wb") as dst:
            dst.write(src.read())
        os.remove(path)
        return gz
    return path


def write_mosaic(
    outdir: str | os.PathLike[str],
    *,
    rows: int = 48,
    columns: int = 48,
    slices: int = 14,
    pixel_spacing: tuple[float, float] = (3.0, 3.0),
    slice_spacing: float = 3.5,
    volumes: int = 1,
    orientation: PhantomOrientation = PhantomOrientation.OBLIQUE,
    descending: bool = False,
    csa: CsaMode = CsaMode.FULL,
    bvalues: Sequence[float] | None = None,
    gradients: Sequence[tuple[float, float, float] | None] | None = None,
    gzip_files: bool = False,
    seed: int = 11,
) -> MosaicResult:
    """Write Siemens mosaic files: one per volume, ``slices`` tiles of ``rows x columns`` each.

    Parameters
    ----------
    outdir : path
    rows, columns, slices : int
        Size of one tile and the number of tiles (slices) per mosaic.
    pixel_spacing : tuple of float
        (row spacing, column spacing) mm.
    slice_spacing : float
        Centre-to-centre slice distance (SpacingBetweenSlices); SliceThickness is written
        smaller (0.8 x), as on a scanner with a slice gap, so a loader that takes the slice
        step from SliceThickness is caught.
    volumes : int
        Mosaic files (volumes) of one series, AcquisitionNumber 1, 2 ...
    orientation : PhantomOrientation
    descending : bool
        Tiles stacked against ``row x column`` (the CSA SliceNormalVector points the other way).
    csa : CsaMode
    bvalues, gradients : sequences, optional
        Per volume: a diffusion series (ImageType DIFFUSION, CSA B_value and
        DiffusionGradientDirection, (0019,xx0C/xx0E)).
    gzip_files : bool
        Write ``.dcm.gz`` files.
    seed : int

    Returns
    -------
    MosaicResult
    """
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    r, c = _directions(orientation, 0.0)
    n = np.cross(r, c)
    n /= np.linalg.norm(n)
    step_dir = -n if descending else n
    extents = (columns * pixel_spacing[1], rows * pixel_spacing[0], slices * slice_spacing)
    base_spec = make_spec(min(extents), min_sphere_radius_mm=min(3.0 * max(*pixel_spacing, slice_spacing), 0.2 * min(extents)))
    per_side = math.ceil(math.sqrt(slices))
    big_rows, big_cols = per_side * rows, per_side * columns
    half = (columns - 1) / 2 * pixel_spacing[1] * r + (rows - 1) / 2 * pixel_spacing[0] * c
    first = -half - ((slices - 1) / 2) * slice_spacing * step_dir  # centre of tile 0's first pixel
    corner = first - c * pixel_spacing[0] * (big_rows - rows) / 2 - r * pixel_spacing[1] * (big_cols - columns) / 2
    corner = np.round(corner, 6)
    first = corner + c * pixel_spacing[0] * (big_rows - rows) / 2 + r * pixel_spacing[1] * (big_cols - columns) / 2
    study_uid, series_uid, frame_uid = str(_uid(seed, "mstudy")), str(_uid(seed, "mseries")), str(_uid(seed, "mfor"))
    names = random.Random(seed)
    files: list[Path] = []
    arrays: list[np.ndarray] = []
    bvals = [float(b) for b in (bvalues or [])]
    grads = list(gradients or [None] * len(bvals))
    spec = base_spec
    for v in range(volumes):
        spec = dataclasses.replace(base_spec, sphere_hu=1000.0 - 60.0 * v)
        mosaic = np.zeros((big_rows, big_cols), np.uint16)
        tiles = []
        for t in range(slices):
            pos = first + t * slice_spacing * step_dir
            hu = _slice_values(pos, r, c, rows, columns, pixel_spacing, spec, None, 1)
            stored = np.clip(np.rint(hu + 1024.0), 0, 4095).astype(np.uint16)
            tr, tc = (t // per_side) * rows, (t % per_side) * columns
            mosaic[tr : tr + rows, tc : tc + columns] = stored
            tiles.append(hu.astype(np.int16))
        ordered = tiles[::-1] if descending else tiles
        arrays.append(np.stack(ordered))
        diffusion = v < len(bvals)
        ds = _base_dataset(
            modality="MR",
            patient_name="Phantom^Mosaic",
            patient_id="PHANTOMMR",
            study_uid=study_uid,
            series_uid=series_uid,
            series_number=5,
            description="ep2d_diff_mosaic" if bvals else "ep2d_bold_mosaic",
            frame_of_reference=frame_uid,
            feet_first=False,
        )
        for ct_only in ("KVP", "WindowCenter", "WindowWidth", "RescaleType"):
            delattr(ds, ct_only)
        sop = _uid(seed, "msop", v)
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID = MR_IMAGE_STORAGE
        ds.file_meta.MediaStorageSOPInstanceUID = sop
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.ImageType = ["ORIGINAL", "PRIMARY", "DIFFUSION" if diffusion else "M", "NONE", "ND", "MOSAIC"]
        ds.SOPClassUID = MR_IMAGE_STORAGE
        ds.SOPInstanceUID = sop
        ds.Manufacturer = "SIEMENS"
        ds.StudyDescription = "Phantom MR"
        ds.AcquisitionNumber = v + 1
        ds.InstanceNumber = v + 1
        ds.RepetitionTime = "2000"
        ds.EchoTime = "30"
        ds.SliceThickness = _ds(slice_spacing * 0.8)
        ds.SpacingBetweenSlices = _ds(slice_spacing)
        ds.ImagePositionPatient = [_ds(x) for x in corner]
        ds.ImageOrientationPatient = [_ds(x) for x in (*r, *c)]
        ds.PixelSpacing = [_ds(pixel_spacing[0]), _ds(pixel_spacing[1])]
        ds.Rows, ds.Columns = big_rows, big_cols
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
        ds.RescaleIntercept = "-1024"
        ds.RescaleSlope = "1"
        fields: list[tuple[str, str, Sequence[Any]]] = [
            ("NumberOfImagesInMosaic", "US", [slices]),
            ("AcquisitionMatrixText", "SH", [f"{rows}p*{columns}"]),
            ("SliceNormalVector", "FD", [float(x) for x in step_dir]),
        ]
        if diffusion:
            fields.append(("B_value", "IS", [int(bvals[v])]))
            g = grads[v] if v < len(grads) else None
            if g is not None:
                fields.append(("DiffusionGradientDirection", "FD", [float(x) for x in g]))
        if csa is not CsaMode.NOTHING:
            mr = ds.private_block(0x0019, "SIEMENS MR HEADER", create=True)
            mr.add_new(0x0A, "US", slices)
            if diffusion:
                mr.add_new(0x0C, "IS", str(int(bvals[v])))
                g = grads[v] if v < len(grads) else None
                if g is not None:
                    mr.add_new(0x0E, "FD", [float(x) for x in g])
        if csa in (CsaMode.FULL, CsaMode.DAMAGED):
            block = ds.private_block(0x0029, "SIEMENS CSA HEADER", create=True)
            payload = csa_header_bytes(fields) if csa is CsaMode.FULL else b"SV10\x04\x03\x02\x01" + bytes(range(200)) * 3
            block.add_new(0x10, "OB", payload)
        ds.PixelData = mosaic.tobytes()
        ds["PixelData"].VR = "OW"
        name = f"{names.getrandbits(48):012x}.dcm"
        files.append(_save(ds, out / name, gzip_files))
    direction = np.column_stack([r, c, n])
    origin = first if not descending else first + (slices - 1) * slice_spacing * step_dir
    return MosaicResult(
        outdir=out,
        files=files,
        spec=spec,
        arrays=arrays,
        origin=(float(origin[0]), float(origin[1]), float(origin[2])),
        spacing=(float(pixel_spacing[1]), float(pixel_spacing[0]), float(slice_spacing)),
        direction=direction,
        bvalues=bvals,
        gradients=grads,
        mosaic_shape=(big_rows, big_cols),
    )


class Classic4DStyle(enum.Enum):
    """How the volumes of a classic (one file per image) 4D series are told apart."""

    INSTANCE_ONLY = "instance-only"  # GE fMRI: only InstanceNumber differs; NumberOfTemporalPositions
    DTI_STANDARD = "dti-standard"  # (0018,9087) b-value + (0018,9089) direction (Canon, Toshiba, Philips)
    DTI_NESTED = "dti-nested"  # (0018,9087) top level, direction inside MRDiffusionSequence (Canon/Toshiba classic)
    DTI_GE = "dti-ge"  # GE private (0043,xx39) b-value + (0019,xxBB-BD) direction
    DTI_PHILIPS = "dti-philips"  # Philips private (2001,xx03) b-value + (2005,xxB0-B2) direction
    DTI_SIEMENS = "dti-siemens"  # Siemens private (0019,xx0C/xx0E); each volume its own AcquisitionNumber
    MAG_PHASE_ECHOES = "mag-phase-echoes"  # Philips field map: ImageType M/P x EchoNumbers 1, 2
    LABEL_CONTROL = "label-control"  # Philips ASL: (2005,xx29) LABEL/CONTROL at each dynamic


# b-value and LPS direction of each DTI volume, in acquisition order (b0 not first on purpose)
_DTI_PROTOCOL: list[tuple[float, tuple[float, float, float] | None]] = [
    (1000.0, (1.0, 0.0, 0.0)),
    (0.0, None),
    (1000.0, (0.0, 1.0, 0.0)),
    (2000.0, (0.0, 0.0, 1.0)),
    (1000.0, (0.0, 0.0, 1.0)),
    (1000.0, (0.70710678, 0.70710678, 0.0)),
    (2000.0, (0.70710678, 0.0, 0.70710678)),
    (1000.0, (0.0, 0.70710678, -0.70710678)),
]


@dataclasses.dataclass
class Classic4DResult:
    """What :func:`write_classic_4d` wrote.

    Attributes
    ----------
    outdir : Path
    style : Classic4DStyle
    volumes : list of PhantomResult
        One per volume, in acquisition order.
    sphere_hu : list of float
        The sphere value of each volume (acquisition order): tells volumes apart.
    expected_order : list of int
        Acquisition indices in the order the loader should return the volumes.
    axis : str
        The fourth axis the loader should report.
    bvalues : list of float or None
    gradients : list of (tuple of float or None) or None
        LPS directions, acquisition order.
    """

    outdir: Path
    style: Classic4DStyle
    volumes: list[PhantomResult]
    sphere_hu: list[float]
    expected_order: list[int]
    axis: str
    bvalues: list[float] | None = None
    gradients: list[tuple[float, float, float] | None] | None = None

    @property
    def files(self) -> list[Path]:
        """Every file written."""
        return [f for v in self.volumes for f in v.files]


def _volume_plan(style: Classic4DStyle, n_volumes: int) -> tuple[list[dict[str, Any]], list[int], str]:
    """Per-volume attributes, the expected order and the axis."""
    plan: list[dict[str, Any]]
    if style is Classic4DStyle.INSTANCE_ONLY:
        return [{} for _ in range(n_volumes)], list(range(n_volumes)), "time"
    if style in (Classic4DStyle.DTI_STANDARD, Classic4DStyle.DTI_NESTED, Classic4DStyle.DTI_GE, Classic4DStyle.DTI_PHILIPS, Classic4DStyle.DTI_SIEMENS):
        plan = [{"b": b, "g": g} for b, g in _DTI_PROTOCOL]
        order = sorted(range(len(plan)), key=lambda v: (plan[v]["b"], v))
        return plan, order, "diffusion"
    if style is Classic4DStyle.MAG_PHASE_ECHOES:
        plan = []
        for kind in ("P", "M"):  # phase written first: order must come from the values
            for echo in (2, 1):
                plan.append({"type": kind, "echo": echo})
        order = sorted(range(4), key=lambda v: (plan[v]["type"], plan[v]["echo"]))
        return plan, order, "index"
    plan = []
    for dyn in range(1, n_volumes // 2 + 1):
        plan.append({"label": "LABEL", "dyn": dyn})
        plan.append({"label": "CONTROL", "dyn": dyn})
    order = sorted(range(len(plan)), key=lambda v: (plan[v]["label"], plan[v]["dyn"]))
    return plan, order, "index"


def write_classic_4d(
    outdir: str | os.PathLike[str],
    *,
    style: Classic4DStyle = Classic4DStyle.INSTANCE_ONLY,
    volumes: int = 6,
    rows: int = 32,
    columns: int = 32,
    slices: int = 10,
    pixel_spacing: tuple[float, float] = (4.0, 4.0),
    slice_spacing: float = 4.0,
    seed: int = 23,
    **options: Any,
) -> Classic4DResult:
    """Write a classic 4D MR series: one file per image, volumes repeating the same positions.

    Parameters
    ----------
    outdir : path
    style : Classic4DStyle
        How the volumes are told apart (see the enum).
    volumes : int
        Volumes for INSTANCE_ONLY and LABEL_CONTROL (pairs); the DTI styles write 8 (b0,
        b1000 x 5 directions, b2000 x 2) and MAG_PHASE_ECHOES 4.
    rows, columns, slices, pixel_spacing, slice_spacing : grid
    seed : int
        One seed for every volume: they share the study and series UIDs.
    **options
        Other keyword arguments of :func:`vtkdicom_app.testing.phantom.write_phantom`.

    Returns
    -------
    Classic4DResult
    """
    out = Path(outdir)
    plan, order, axis = _volume_plan(style, volumes)
    results: list[PhantomResult] = []
    hus: list[float] = []
    n_vol = len(plan)
    for v, attrs in enumerate(plan):
        hu = 1000.0 - 45.0 * v
        hus.append(hu)
        res = write_phantom(
            out,
            rows=rows,
            columns=columns,
            slices=slices,
            pixel_spacing=pixel_spacing,
            slice_spacing=slice_spacing,
            seed=seed,
            variant=f"V{v:03d}",
            sphere_hu=hu,
            shuffle_names=True,
            modality="MR",
            **options,
        )
        for a, path in enumerate(res.files):
            ds = pydicom.dcmread(path)
            ds.SOPClassUID = MR_IMAGE_STORAGE
            ds.file_meta.MediaStorageSOPClassUID = MR_IMAGE_STORAGE
            ds.InstanceNumber = v * slices + a + 1
            ds.RepetitionTime = "2000"
            ds.EchoTime = "30"
            if style is Classic4DStyle.INSTANCE_ONLY:
                ds.Manufacturer = "GE MEDICAL SYSTEMS"
                ds.NumberOfTemporalPositions = n_vol
            elif style is Classic4DStyle.DTI_STANDARD:
                ds.Manufacturer = "CANON_MEC"
                ds.DiffusionBValue = attrs["b"]
                ds.DiffusionGradientOrientation = list(attrs["g"] or (0.0, 0.0, 0.0))
            elif style is Classic4DStyle.DTI_NESTED:
                ds.Manufacturer = "TOSHIBA"
                ds.DiffusionBValue = attrs["b"]
                item = Dataset()
                item.DiffusionBValue = attrs["b"]
                if attrs["g"] is not None:
                    direction = Dataset()
                    direction.DiffusionGradientOrientation = list(attrs["g"])
                    item.DiffusionGradientDirectionSequence = DicomSequence([direction])
                ds.MRDiffusionSequence = DicomSequence([item])
            elif style is Classic4DStyle.DTI_GE:
                ds.Manufacturer = "GE MEDICAL SYSTEMS"
                parm = ds.private_block(0x0043, "GEMS_PARM_01", create=True)
                parm.add_new(0x39, "IS", [str(1_000_000_000 + int(attrs["b"])), "8", "0", "0"])
                acq = ds.private_block(0x0019, "GEMS_ACQU_01", create=True)
                for off, comp in zip((0xBB, 0xBC, 0xBD), attrs["g"] or (0.0, 0.0, 0.0)):
                    acq.add_new(off, "DS", _ds(comp))
            elif style is Classic4DStyle.DTI_PHILIPS:
                ds.Manufacturer = "Philips Medical Systems"
                img = ds.private_block(0x2001, "Philips Imaging DD 001", create=True)
                img.add_new(0x03, "FL", float(attrs["b"]))
                mr = ds.private_block(0x2005, "Philips MR Imaging DD 001", create=True)
                for off, comp in zip((0xB0, 0xB1, 0xB2), attrs["g"] or (0.0, 0.0, 0.0)):
                    mr.add_new(off, "FL", float(comp))
                mr.add_new(0x0E, "FL", 0.25)
                mr.add_new(0x0D, "FL", 0.0)
            elif style is Classic4DStyle.DTI_SIEMENS:
                ds.Manufacturer = "SIEMENS"
                ds.AcquisitionNumber = v + 1
                block = ds.private_block(0x0019, "SIEMENS MR HEADER", create=True)
                block.add_new(0x0C, "IS", str(int(attrs["b"])))
                if attrs["g"] is not None:
                    block.add_new(0x0E, "FD", list(attrs["g"]))
            elif style is Classic4DStyle.MAG_PHASE_ECHOES:
                ds.Manufacturer = "Philips Medical Systems"
                ds.ImageType = ["ORIGINAL", "PRIMARY", "M_FFE" if attrs["type"] == "M" else "PHASE MAP", attrs["type"], "FFE"]
                ds.EchoNumbers = attrs["echo"]
                ds.EchoTime = _ds(4.6 * attrs["echo"])
            else:
                ds.Manufacturer = "Philips Medical Systems"
                ds.TemporalPositionIdentifier = attrs["dyn"]
                ds.NumberOfTemporalPositions = n_vol // 2
                dd5 = ds.private_block(0x2005, "Philips MR Imaging DD 005", create=True)
                dd5.add_new(0x29, "CS", attrs["label"])
            ds.save_as(path)
        results.append(res)
    bvals = [float(p["b"]) for p in plan] if axis == "diffusion" else None
    grads = [p["g"] for p in plan] if axis == "diffusion" else None
    return Classic4DResult(out, style, results, hus, order, axis, bvals, grads)
