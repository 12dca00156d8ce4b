"""Synthetic CT series with a known answer, written with pydicom.

The model lives in patient space (LPS, mm, centred on the patient origin): air, an elliptic
body, two lungs, a spine, a bone sphere of known radius and an asymmetric marker box on the
patient's LEFT (+x). Every voxel of a written series holds the model's value at that
voxel's true patient position (or, with ``partial_volume``, its average over the voxel, plus
optional seeded noise), so any loader, reslice or mesh can be checked against
:func:`phantom_values` and :class:`PhantomSpec`.

It is the demo data, the test data and the benchmark data::

    from vtkdicom_app.testing.phantom import write_phantom
    result = write_phantom("phantom/", rows=128, columns=128, slices=64)
    result.spec.sphere_center, result.spec.sphere_radius

(``vtkdicom_app.phantom`` re-exports this module.) :func:`write_phantom` runs four steps,
each usable alone:

1. :class:`WriteSpec`: what is written (grid, geometry, encoding, series), checked once;
2. :func:`series_geometry`: directions and slice positions of a series, as written;
3. :func:`build_series_dataset`, :func:`build_slice_dataset`,
   :func:`build_multiframe_dataset`: the pydicom datasets (pixels from :func:`render_slice`);
4. :func:`write_spec`: the files, names and the :class:`PhantomResult`.
"""

from __future__ import annotations

import copy
import dataclasses
import enum
import math
import os
import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.tag import Tag
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    RLELossless,
    generate_uid,
)
from pydicom.valuerep import format_number_as_ds

__all__ = [
    "CT_IMAGE_STORAGE",
    "ENHANCED_CT_IMAGE_STORAGE",
    "MultiFrame",
    "PhantomOrientation",
    "PhantomResult",
    "PhantomSpec",
    "PixelFormat",
    "SequenceKind",
    "SequenceResult",
    "SeriesGeometry",
    "TransferSyntax",
    "WriteSpec",
    "build_multiframe_dataset",
    "build_series_dataset",
    "build_slice_dataset",
    "make_spec",
    "phantom_values",
    "pixel_format",
    "render_slice",
    "series_geometry",
    "write_phantom",
    "write_sequence",
    "write_spec",
]

CT_IMAGE_STORAGE = UID("1.2.840.10008.5.1.4.1.1.2")
ENHANCED_CT_IMAGE_STORAGE = UID("1.2.840.10008.5.1.4.1.1.2.1")
_UID_ROOT = "1.2.826.0.1.3680043.8.498."  # pydicom's root for generated UIDs


class PhantomOrientation(enum.Enum):
    """Slice orientation of the written series."""

    AXIAL = "axial"
    CORONAL = "coronal"
    SAGITTAL = "sagittal"
    OBLIQUE = "oblique"


class TransferSyntax(enum.Enum):
    """Encoding of the written files; the value is the TransferSyntaxUID.

    Every member is lossless and round-trips through pydicom to the same stored values.
    EXPLICIT_BIG is written by byte-swapping the pixel data here (pydicom 3 writes the
    other elements big endian itself). RLE uses pydicom's own encoder, JPEG2000_LOSSLESS
    pylibjpeg-openjpeg. JPEG-LS is absent: pydicom's JPEG-LS encoder needs pyjpegls,
    which is not a dependency.
    """

    EXPLICIT_LITTLE = ExplicitVRLittleEndian
    IMPLICIT_LITTLE = ImplicitVRLittleEndian
    EXPLICIT_BIG = ExplicitVRBigEndian
    DEFLATED = DeflatedExplicitVRLittleEndian
    RLE = RLELossless
    JPEG2000_LOSSLESS = JPEG2000Lossless


class MultiFrame(enum.Enum):
    """One file per slice, or one multi-frame file per series."""

    NONE = "none"
    CLASSIC = "classic"  # NumberOfFrames + GridFrameOffsetVector (RT-dose style)
    ENHANCED = "enhanced"  # Enhanced CT with per-frame functional groups


@dataclasses.dataclass(frozen=True)
class PhantomSpec:
    """The model: shapes in LPS mm and their values in HU.

    Attributes
    ----------
    field_of_view_mm : float
        Size of the cube the model is scaled to (the smallest extent of the grid).
    body_semi_axes : tuple of float
        Semi-axes (x, y) of the elliptic body cylinder along z.
    lung_centers : tuple of tuple of float
        (x, y) centres of the two lung cylinders.
    lung_semi_axes : tuple of float
        Semi-axes (x, y) of each lung.
    spine_center : tuple of float
        (x, y) of the spine cylinder.
    spine_radius : float
    sphere_center : tuple of float
        LPS centre of the bone sphere.
    sphere_radius : float
    marker_center : tuple of float
        LPS centre of the marker box: x > 0, the patient's left.
    marker_half_size : tuple of float
        Half sizes of the marker box along x, y, z (all different: the box is asymmetric).
    """

    field_of_view_mm: float
    body_semi_axes: tuple[float, float]
    lung_centers: tuple[tuple[float, float], tuple[float, float]]
    lung_semi_axes: tuple[float, float]
    spine_center: tuple[float, float]
    spine_radius: float
    sphere_center: tuple[float, float, float]
    sphere_radius: float
    marker_center: tuple[float, float, float]
    marker_half_size: tuple[float, float, float]
    air_hu: float = -1000.0
    body_hu: float = 40.0
    lung_hu: float = -800.0
    spine_hu: float = 400.0
    sphere_hu: float = 1000.0
    marker_hu: float = 2000.0
    noise_sd: float = 0.0

    @property
    def sphere_volume_mm3(self) -> float:
        """Exact volume of the bone sphere, 4/3 pi r^3."""
        return 4.0 / 3.0 * math.pi * self.sphere_radius**3

    @property
    def marker_volume_mm3(self) -> float:
        """Exact volume of the marker box."""
        hx, hy, hz = self.marker_half_size
        return 8.0 * hx * hy * hz


def make_spec(field_of_view_mm: float, *, noise_sd: float = 0.0, min_sphere_radius_mm: float = 0.0) -> PhantomSpec:
    """The model scaled to a cube of side ``field_of_view_mm`` centred on the origin.

    Everything that matters (sphere, marker, spine, lungs) lies within 0.45 x FOV of the
    origin, so it is inside the grid whatever the orientation. The bone sphere (radius
    0.15 x FOV, centre slightly anterior and inferior, x = 0) is clear of the lungs and the
    spine; the marker box sits on the patient's left (x > 0), anterior and superior.

    Parameters
    ----------
    field_of_view_mm : float
        Side of the cube the model is scaled to (mm).
    noise_sd : float
        Recorded in the spec; the writer adds the noise.
    min_sphere_radius_mm : float
        Lower bound on the sphere radius (keeps it a few voxels wide on coarse grids).

    Returns
    -------
    PhantomSpec

    Examples
    --------
    >>> spec = make_spec(200.0)
    >>> spec.marker_center[0] > 0
    True
    """
    f = float(field_of_view_mm)
    return PhantomSpec(
        field_of_view_mm=f,
        body_semi_axes=(0.42 * f, 0.32 * f),
        lung_centers=((-0.26 * f, -0.05 * f), (0.26 * f, -0.05 * f)),
        lung_semi_axes=(0.09 * f, 0.13 * f),
        spine_center=(0.0, 0.2 * f),
        spine_radius=0.06 * f,
        sphere_center=(0.0, -0.08 * f, -0.05 * f),
        sphere_radius=max(0.15 * f, min_sphere_radius_mm),
        marker_center=(0.22 * f, -0.1 * f, 0.18 * f),
        marker_half_size=(0.06 * f, 0.04 * f, 0.08 * f),
        noise_sd=noise_sd,
    )


def phantom_values(points_lps: np.ndarray, spec: PhantomSpec) -> np.ndarray:
    """The model's value (HU, without noise) at LPS points.

    Parameters
    ----------
    points_lps : numpy.ndarray
        Array of shape ``(..., 3)``, LPS mm.
    spec : PhantomSpec

    Returns
    -------
    numpy.ndarray
        float64 of shape ``(...)``.
    """
    p = np.asarray(points_lps, dtype=np.float64)
    x, y, z = p[..., 0], p[..., 1], p[..., 2]
    out = np.full(x.shape, spec.air_hu)
    ax, ay = spec.body_semi_axes
    out[(x / ax) ** 2 + (y / ay) ** 2 <= 1.0] = spec.body_hu
    lx, ly = spec.lung_semi_axes
    for cx, cy in spec.lung_centers:
        out[((x - cx) / lx) ** 2 + ((y - cy) / ly) ** 2 <= 1.0] = spec.lung_hu
    sx, sy = spec.spine_center
    out[(x - sx) ** 2 + (y - sy) ** 2 <= spec.spine_radius**2] = spec.spine_hu
    c = spec.sphere_center
    out[(x - c[0]) ** 2 + (y - c[1]) ** 2 + (z - c[2]) ** 2 <= spec.sphere_radius**2] = spec.sphere_hu
    m, h = spec.marker_center, spec.marker_half_size
    out[(np.abs(x - m[0]) <= h[0]) & (np.abs(y - m[1]) <= h[1]) & (np.abs(z - m[2]) <= h[2])] = spec.marker_hu
    return out


@dataclasses.dataclass
class PhantomResult:
    """What :func:`write_phantom` wrote.

    Attributes
    ----------
    outdir : Path
    files : list of Path
        In acquisition order, series after series.
    spec : PhantomSpec
    series_uids : list of str
    rows, columns, slices : int
    pixel_spacing : tuple of float
        DICOM order (row spacing, column spacing).
    slice_spacing : float
    orientation : PhantomOrientation
    row_direction, column_direction : tuple of float
        The IOP vectors.
    positions : list of tuple of float
        IPP of each written slice of the first series, in acquisition order.
    series_files : list of list of Path
        The files of each series, in acquisition order (one file per series when multi-frame).
    series_positions : list of list of tuple of float
        IPP of each written slice (or frame) of each series, in acquisition order.
    """

    outdir: Path
    files: list[Path]
    spec: PhantomSpec
    series_uids: list[str]
    rows: int
    columns: int
    slices: int
    pixel_spacing: tuple[float, float]
    slice_spacing: float
    orientation: PhantomOrientation
    row_direction: tuple[float, float, float]
    column_direction: tuple[float, float, float]
    positions: list[tuple[float, float, float]]
    series_files: list[list[Path]] = dataclasses.field(default_factory=list)
    series_positions: list[list[tuple[float, float, float]]] = dataclasses.field(default_factory=list)

    @property
    def normal(self) -> np.ndarray:
        """The slice normal r x c (LPS, unit length up to the 6-decimal rounding of the IOP).

        Returns
        -------
        numpy.ndarray
            Shape ``(3,)``.
        """
        return np.cross(self.row_direction, self.column_direction)

    def expected_sorted_positions(self, series: int = 0) -> list[tuple[float, float, float]]:
        """The written positions sorted along the normal, ascending: what a loader should find.

        Parameters
        ----------
        series : int
            Index of the series (0 = the first).

        Returns
        -------
        list of tuple of float
            IPPs in LPS mm, ascending projection on :attr:`normal`.
        """
        positions = self.series_positions[series] if self.series_positions else self.positions
        n = self.normal
        return sorted(positions, key=lambda p: float(np.dot(p, n)))


def _rotation(axis: Sequence[float], degrees: float) -> np.ndarray:
    a = np.asarray(axis, dtype=np.float64)
    a /= np.linalg.norm(a)
    t = math.radians(degrees)
    k = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
    return np.eye(3) + math.sin(t) * k + (1 - math.cos(t)) * (k @ k)


def _directions(orientation: PhantomOrientation, tilt_deg: float) -> tuple[np.ndarray, np.ndarray]:
    if orientation is PhantomOrientation.AXIAL:
        r, c = np.array([1.0, 0, 0]), np.array([0, 1.0, 0])
    elif orientation is PhantomOrientation.CORONAL:
        r, c = np.array([1.0, 0, 0]), np.array([0, 0, -1.0])
    elif orientation is PhantomOrientation.SAGITTAL:
        r, c = np.array([0, 1.0, 0]), np.array([0, 0, -1.0])
    else:
        rot = _rotation((0, 0, 1), 20.0) @ _rotation((1, 0, 0), 25.0)
        r, c = rot @ np.array([1.0, 0, 0]), rot @ np.array([0, 1.0, 0])
    if tilt_deg:
        rot = _rotation((1, 0, 0), tilt_deg)
        c = rot @ c
    # what gets written is rounded to 6 decimals: make the vectors exactly what is stored
    r = np.round(r, 6)
    c = np.round(c, 6)
    return r, c


def _ds(value: float) -> str:
    """A valid DS string (at most 16 characters) keeping 6 decimals where they fit."""
    text = f"{float(value):.6f}".rstrip("0").rstrip(".")
    if text in ("-0", ""):
        return "0"
    if len(text) > 16:
        text = format_number_as_ds(float(value))
    return text


def _uid(*parts: object) -> UID:
    return generate_uid(prefix=_UID_ROOT, entropy_srcs=[str(p) for p in parts])


def _base_dataset(
    *,
    modality: str,
    patient_name: str,
    patient_id: str,
    study_uid: str,
    series_uid: str,
    series_number: int,
    description: str,
    frame_of_reference: str,
    feet_first: bool,
) -> Dataset:
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.SOPClassUID = CT_IMAGE_STORAGE
    ds.StudyDate = "20260101"
    ds.SeriesDate = "20260101"
    ds.StudyTime = "120000"
    ds.Modality = modality
    ds.Manufacturer = "vtkdicom_app phantom"
    ds.StudyDescription = "Phantom study"
    ds.SeriesDescription = description
    ds.PatientName = patient_name
    ds.PatientID = patient_id
    ds.PatientBirthDate = "19700101"
    ds.PatientSex = "O"
    ds.KVP = "120"
    ds.PatientPosition = "FFS" if feet_first else "HFS"
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.StudyID = "1"
    ds.SeriesNumber = series_number
    ds.AcquisitionNumber = 1
    ds.FrameOfReferenceUID = frame_of_reference
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.WindowCenter = "40"
    ds.WindowWidth = "400"
    ds.RescaleType = "HU"
    return ds


def _slice_values(
    ipp: np.ndarray,
    r: np.ndarray,
    c: np.ndarray,
    rows: int,
    columns: int,
    pixel_spacing: tuple[float, float],
    spec: PhantomSpec,
    step: np.ndarray | None,
    supersample: int,
) -> np.ndarray:
    """HU of one slice: the model at voxel centres, or averaged over each voxel (partial volume).

    With ``supersample`` > 1, voxels whose value differs from one of their six neighbours are
    replaced by the mean of ``supersample**3`` samples spread over the voxel, as a CT scanner
    averages what a voxel covers; interior voxels keep their exact value.
    """
    jj, ii = np.mgrid[0:rows, 0:columns].astype(np.float64)
    du = (ii * pixel_spacing[1])[..., None] * r + (jj * pixel_spacing[0])[..., None] * c
    hu = phantom_values(ipp + du, spec)
    if supersample <= 1 or step is None:
        return hu
    edge = np.zeros(hu.shape, bool)
    edge[:, 1:] |= hu[:, 1:] != hu[:, :-1]
    edge[:, :-1] |= hu[:, :-1] != hu[:, 1:]
    edge[1:, :] |= hu[1:, :] != hu[:-1, :]
    edge[:-1, :] |= hu[:-1, :] != hu[1:, :]
    for sign in (-1.0, 1.0):
        edge |= phantom_values(ipp + sign * step + du, spec) != hu
    if not edge.any():
        return hu
    base = (ipp + du)[edge]  # (M, 3)
    offsets = (np.arange(supersample) + 0.5) / supersample - 0.5
    acc = np.zeros(len(base))
    for a in offsets:
        for b in offsets:
            for g in offsets:
                shift = a * pixel_spacing[1] * r + b * pixel_spacing[0] * c + g * step
                acc += phantom_values(base + shift, spec)
    hu = hu.copy()
    hu[edge] = acc / supersample**3
    return hu


def _stored_slice(
    ipp: np.ndarray,
    r: np.ndarray,
    c: np.ndarray,
    rows: int,
    columns: int,
    pixel_spacing: tuple[float, float],
    spec: PhantomSpec,
    rng: np.random.Generator | None,
    slope: float,
    intercept: float,
    dtype: np.dtype,
    lo: int,
    hi: int,
    step: np.ndarray | None = None,
    supersample: int = 1,
) -> np.ndarray:
    hu = _slice_values(ipp, r, c, rows, columns, pixel_spacing, spec, step, supersample)
    if rng is not None and spec.noise_sd > 0:
        hu = hu + rng.normal(0.0, spec.noise_sd, hu.shape)
    stored = np.clip(np.rint((hu - intercept) / slope), lo, hi)
    return stored.astype(dtype)


def _encode(ds: Dataset, frames: np.ndarray, syntax: TransferSyntax) -> None:
    """Put pixel data into ``ds`` in the requested transfer syntax.

    Compressed syntaxes keep the dataset's SOPInstanceUID (pydicom's ``compress`` would
    otherwise replace it with a random one, and ``seed`` would no longer fix the UIDs).
    """
    ds.file_meta.TransferSyntaxUID = syntax.value
    if syntax is TransferSyntax.EXPLICIT_BIG:
        ds.PixelData = frames.astype(frames.dtype.newbyteorder(">")).tobytes()
        ds["PixelData"].VR = "OW"
        return
    ds.PixelData = np.ascontiguousarray(frames).tobytes()
    ds["PixelData"].VR = "OW"
    if syntax in (TransferSyntax.RLE, TransferSyntax.JPEG2000_LOSSLESS):
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.compress(
            syntax.value,
            frames if frames.shape[0] > 1 else frames[0],
            encoding_plugin="pylibjpeg" if syntax is TransferSyntax.JPEG2000_LOSSLESS else "",
            generate_instance_uid=False,
        )


def _save(ds: Dataset, path: Path) -> None:
    """Write a DICOM file: 128-byte preamble, ``DICM``, full file meta (pydicom adds the
    group length, version and ImplementationClassUID)."""
    ds.save_as(path, enforce_file_format=True)


def _series_slices(slices: int, series_index: int) -> int:
    """Slices of series ``series_index``: each later series has 2 fewer (at least 1)."""
    return max(1, slices - 2 * series_index)


# openjpeg (through pylibjpeg) encodes 6 resolution levels: each side needs 2**5 pixels
_J2K_MIN_SIDE = 32


def _check_arguments(
    *,
    rows: int,
    columns: int,
    slices: int,
    pixel_spacing: tuple[float, float],
    slice_spacing: float,
    n_series: int,
    rescale_slope: float,
    noise_sd: float,
    skip_slices: Sequence[int] | frozenset[int],
    orientation: PhantomOrientation,
    gantry_tilt_deg: float,
    multiframe: MultiFrame,
    transfer_syntax: TransferSyntax = TransferSyntax.EXPLICIT_LITTLE,
) -> None:
    """Refuse arguments that cannot make a valid series (ValueError naming the argument)."""
    for name, value in (("rows", rows), ("columns", columns), ("slices", slices), ("n_series", n_series)):
        if int(value) != value or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if rows > 65535 or columns > 65535:
        raise ValueError("rows and columns must fit in 16 bits (DICOM US)")
    if len(pixel_spacing) != 2 or not all(math.isfinite(v) and v > 0 for v in pixel_spacing):
        raise ValueError(f"pixel_spacing must be two positive numbers (row, column), got {pixel_spacing!r}")
    if not (math.isfinite(slice_spacing) and slice_spacing > 0):
        raise ValueError(f"slice_spacing must be positive, got {slice_spacing!r}")
    if not (math.isfinite(rescale_slope) and rescale_slope != 0):
        raise ValueError(f"rescale_slope must be non-zero, got {rescale_slope!r}")
    if not (math.isfinite(noise_sd) and noise_sd >= 0):
        raise ValueError(f"noise_sd must be >= 0, got {noise_sd!r}")
    for s in range(n_series):
        if not set(range(_series_slices(slices, s))) - {int(k) for k in skip_slices}:
            raise ValueError(f"skip_slices leaves no slice to write in series {s + 1}")
    if gantry_tilt_deg:
        if orientation is not PhantomOrientation.AXIAL:
            raise ValueError("gantry tilt is only modelled for axial series")
        if not abs(gantry_tilt_deg) < 60:
            raise ValueError(f"gantry_tilt_deg must be within (-60, 60), got {gantry_tilt_deg!r}")
        if multiframe is MultiFrame.CLASSIC:
            raise ValueError(
                "gantry tilt shears the stack, which GridFrameOffsetVector (offsets along the normal) "
                "cannot describe: use multiframe=MultiFrame.ENHANCED or MultiFrame.NONE"
            )
    if transfer_syntax is TransferSyntax.JPEG2000_LOSSLESS and min(rows, columns) < _J2K_MIN_SIDE:
        raise ValueError(f"JPEG2000_LOSSLESS needs rows and columns >= {_J2K_MIN_SIDE} (openjpeg encodes 6 resolution levels), got {rows} x {columns}")


def _add_dimensions(ds: Dataset, organization_uid: str) -> None:
    """Declare the (StackID, InStackPositionNumber) dimensions that DimensionIndexValues index."""
    organization = Dataset()
    organization.DimensionOrganizationUID = organization_uid
    ds.DimensionOrganizationSequence = DicomSequence([organization])
    ds.DimensionOrganizationType = "3D"
    items = []
    for pointer, label in ((Tag(0x0020, 0x9056), "Stack ID"), (Tag(0x0020, 0x9057), "In-Stack Position Number")):
        item = Dataset()
        item.DimensionOrganizationUID = organization_uid
        item.DimensionIndexPointer = pointer
        item.FunctionalGroupPointer = Tag(0x0020, 0x9111)  # FrameContentSequence
        item.DimensionDescriptionLabel = label
        items.append(item)
    ds.DimensionIndexSequence = DicomSequence(items)


def _grid_model(
    rows: int,
    columns: int,
    slices: int,
    pixel_spacing: Sequence[float],
    slice_spacing: float,
    noise_sd: float = 0.0,
) -> PhantomSpec:
    """The model scaled to the smallest extent of a grid, the sphere at least 3 voxels wide."""
    extents = (columns * pixel_spacing[1], rows * pixel_spacing[0], slices * slice_spacing)
    min_radius = 3.0 * max(pixel_spacing[0], pixel_spacing[1], slice_spacing)
    return make_spec(min(extents), noise_sd=noise_sd, min_sphere_radius_mm=min(min_radius, 0.2 * min(extents)))


# --- 1. the spec: what is written ------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class PixelFormat:
    """How HU are stored: ``stored = round((HU - intercept) / slope)`` clipped to ``lo..hi``.

    Attributes
    ----------
    bits_allocated, bits_stored, high_bit, pixel_representation : int
        The (0028,0100-0103) values.
    dtype : numpy.dtype
        Little-endian dtype of the stored values.
    lo, hi : int
        The stored range values are clipped to.
    """

    bits_allocated: int
    bits_stored: int
    high_bit: int
    pixel_representation: int
    dtype: np.dtype
    lo: int
    hi: int


def pixel_format(slope: float, intercept: float) -> PixelFormat:
    """uint16 with 12 bits stored when -1024..3071 HU fits 0..4095, else int16 with 16 bits.

    Parameters
    ----------
    slope, intercept : float
        RescaleSlope and RescaleIntercept.

    Returns
    -------
    PixelFormat
    """
    lo = (-1024.0 - intercept) / slope
    hi = (3071.0 - intercept) / slope
    if lo >= 0 and hi <= 4095:
        return PixelFormat(16, 12, 11, 0, np.dtype("<u2"), 0, 4095)
    return PixelFormat(16, 16, 15, 1, np.dtype("<i2"), -32768, 32767)


def _set_pixel_format(ds: Dataset, slope: float, intercept: float) -> tuple[np.dtype, int, int]:
    fmt = pixel_format(slope, intercept)
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = (
        fmt.bits_allocated,
        fmt.bits_stored,
        fmt.high_bit,
        fmt.pixel_representation,
    )
    return fmt.dtype, fmt.lo, fmt.hi


@dataclasses.dataclass(frozen=True)
class WriteSpec:
    """What :func:`write_phantom` writes: grid, geometry, encoding and series options.

    The fields are :func:`write_phantom`'s keyword arguments, with the same names, defaults
    and meaning; the spec is checked when it is made, so every spec can be written.

    Attributes
    ----------
    rows, columns, slices : int
    pixel_spacing : tuple of float
        (row spacing, column spacing) mm.
    slice_spacing : float
    orientation : PhantomOrientation
    feet_first : bool
    gantry_tilt_deg : float
    shuffle_names : bool
    suffix : str
    reverse_instance_numbers : bool
    n_series : int
    noise_sd : float
    seed : int
    transfer_syntax : TransferSyntax
    multiframe : MultiFrame
    rescale_intercept, rescale_slope : float
    patient_name, patient_id, modality : str
    skip_slices : frozenset of int
    partial_volume : bool
    sphere_radius_mm, sphere_hu : float or None
    extra_tags : tuple of (str, object)
        Attributes set on every file, in the order given (a dict is accepted and converted).
    variant : str

    Raises
    ------
    ValueError
        Arguments that cannot make a valid series (see :func:`write_phantom`).

    Examples
    --------
    >>> spec = WriteSpec(rows=32, columns=32, slices=8, skip_slices=frozenset({3}))
    >>> spec.total_frames, spec.pixel_format.bits_stored
    (7, 12)
    """

    rows: int = 128
    columns: int = 128
    slices: int = 64
    pixel_spacing: tuple[float, float] = (1.5, 1.5)
    slice_spacing: float = 2.0
    orientation: PhantomOrientation = PhantomOrientation.AXIAL
    feet_first: bool = False
    gantry_tilt_deg: float = 0.0
    shuffle_names: bool = False
    suffix: str = ".dcm"
    reverse_instance_numbers: bool = False
    n_series: int = 1
    noise_sd: float = 0.0
    seed: int = 0
    transfer_syntax: TransferSyntax = TransferSyntax.EXPLICIT_LITTLE
    multiframe: MultiFrame = MultiFrame.NONE
    rescale_intercept: float = -1024.0
    rescale_slope: float = 1.0
    patient_name: str = "Phantom^Test"
    patient_id: str = "PHANTOM001"
    modality: str = "CT"
    skip_slices: frozenset[int] = frozenset()
    partial_volume: bool = False
    sphere_radius_mm: float | None = None
    sphere_hu: float | None = None
    extra_tags: tuple[tuple[str, Any], ...] = ()
    variant: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "pixel_spacing", tuple(self.pixel_spacing))
        extra: Any = self.extra_tags
        object.__setattr__(self, "extra_tags", tuple(extra.items()) if isinstance(extra, dict) else tuple(extra or ()))
        _check_arguments(
            rows=self.rows,
            columns=self.columns,
            slices=self.slices,
            pixel_spacing=self.pixel_spacing,
            slice_spacing=self.slice_spacing,
            n_series=self.n_series,
            rescale_slope=self.rescale_slope,
            noise_sd=self.noise_sd,
            skip_slices=self.skip_slices,
            orientation=self.orientation,
            gantry_tilt_deg=self.gantry_tilt_deg,
            multiframe=self.multiframe,
            transfer_syntax=self.transfer_syntax,
        )
        object.__setattr__(self, "skip_slices", frozenset(int(k) for k in self.skip_slices))

    def series_slices(self, series: int) -> int:
        """Slices of series ``series`` (0-based) before skipping: 2 fewer per later series."""
        return _series_slices(self.slices, series)

    def written_indices(self, series: int) -> list[int]:
        """Acquisition indices of the slices of ``series`` that are written (not skipped)."""
        return [a for a in range(self.series_slices(series)) if a not in self.skip_slices]

    @property
    def total_frames(self) -> int:
        """Slices (frames) written over all series: the ``total`` passed to ``progress``."""
        return sum(len(self.written_indices(s)) for s in range(self.n_series))

    @property
    def pixel_format(self) -> PixelFormat:
        """How values are stored for this spec's rescale."""
        return pixel_format(self.rescale_slope, self.rescale_intercept)

    @property
    def tags(self) -> dict[str, Any]:
        """``extra_tags`` as a dict."""
        return dict(self.extra_tags)

    def model(self) -> PhantomSpec:
        """The model scaled to this grid, with the sphere overrides applied."""
        spec = _grid_model(self.rows, self.columns, self.slices, self.pixel_spacing, self.slice_spacing, self.noise_sd)
        if self.sphere_radius_mm is not None:
            spec = dataclasses.replace(spec, sphere_radius=float(self.sphere_radius_mm))
        if self.sphere_hu is not None:
            spec = dataclasses.replace(spec, sphere_hu=float(self.sphere_hu))
        return spec


# --- 2. where the slices lie -----------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SeriesGeometry:
    """Where the slices of one series lie, in LPS mm, exactly as written.

    Attributes
    ----------
    row, column : numpy.ndarray
        The IOP vectors (rounded to the 6 decimals that are written).
    normal : numpy.ndarray
        ``row x column``, unit length.
    step : numpy.ndarray
        From one slice to the next: ``slice_spacing`` along the normal, or along the table
        (+z) when the gantry is tilted.
    positions : tuple of numpy.ndarray
        IPP of every slice in acquisition order (skipped ones included), rounded to 6
        decimals; the grid is centred on the patient origin.
    written : tuple of int
        Acquisition indices of the slices that are written.
    """

    row: np.ndarray
    column: np.ndarray
    normal: np.ndarray
    step: np.ndarray
    positions: tuple[np.ndarray, ...]
    written: tuple[int, ...]

    @property
    def acquisition(self) -> list[tuple[int, np.ndarray]]:
        """``(acquisition index, IPP)`` of each written slice, in acquisition order."""
        return [(a, self.positions[a]) for a in self.written]


def series_geometry(spec: WriteSpec, series: int = 0) -> SeriesGeometry:
    """Directions and slice positions of series ``series`` of ``spec``.

    Parameters
    ----------
    spec : WriteSpec
    series : int
        0-based series index.

    Returns
    -------
    SeriesGeometry
    """
    r, c = _directions(spec.orientation, spec.gantry_tilt_deg)
    n = np.cross(r, c)
    n /= np.linalg.norm(n)
    step_dir = np.array([0.0, 0.0, 1.0]) if spec.gantry_tilt_deg else n
    ps = spec.pixel_spacing
    n_slices = spec.series_slices(series)
    # centre the grid on the patient origin
    half = (spec.columns - 1) / 2 * ps[1] * r + (spec.rows - 1) / 2 * ps[0] * c
    order = list(range(n_slices))
    if spec.feet_first:
        order.reverse()
    positions = []
    for k in order:
        offset = (k - (n_slices - 1) / 2) * spec.slice_spacing
        positions.append(np.round(-half + offset * step_dir, 6))
    return SeriesGeometry(
        row=r,
        column=c,
        normal=n,
        step=spec.slice_spacing * step_dir,
        positions=tuple(positions),
        written=tuple(spec.written_indices(series)),
    )


def render_slice(spec: WriteSpec, model: PhantomSpec, geometry: SeriesGeometry, ipp: np.ndarray, rng: np.random.Generator | None) -> np.ndarray:
    """Stored values ``(rows, columns)`` of the slice at ``ipp``: the model (averaged over each
    boundary voxel with ``partial_volume``), plus noise from ``rng``, rescaled and clipped."""
    fmt = spec.pixel_format
    return _stored_slice(
        ipp,
        geometry.row,
        geometry.column,
        spec.rows,
        spec.columns,
        spec.pixel_spacing,
        model,
        rng,
        spec.rescale_slope,
        spec.rescale_intercept,
        fmt.dtype,
        fmt.lo,
        fmt.hi,
        step=geometry.step,
        supersample=3 if spec.partial_volume else 1,
    )


# --- 3. the datasets -------------------------------------------------------------------------


def _series_uid(spec: WriteSpec, series: int) -> str:
    return _uid(spec.seed, "series", series)


def build_series_dataset(spec: WriteSpec, series: int, geometry: SeriesGeometry) -> Dataset:
    """The attributes shared by every file of one series (no file meta, no pixel data).

    Parameters
    ----------
    spec : WriteSpec
    series : int
        0-based series index (SeriesNumber ``series + 1``).
    geometry : SeriesGeometry
        Gives ImageOrientationPatient.

    Returns
    -------
    pydicom.dataset.Dataset
    """
    base = _base_dataset(
        modality=spec.modality,
        patient_name=spec.patient_name,
        patient_id=spec.patient_id,
        study_uid=_uid(spec.seed, "study"),
        series_uid=_series_uid(spec, series),
        series_number=series + 1,
        description="Phantom CT" if series == 0 else f"Phantom CT {series + 1}",
        frame_of_reference=_uid(spec.seed, "for"),
        feet_first=spec.feet_first,
    )
    for keyword, value in spec.extra_tags:
        setattr(base, keyword, value)
    _set_pixel_format(base, spec.rescale_slope, spec.rescale_intercept)
    base.Rows, base.Columns = spec.rows, spec.columns
    base.PixelSpacing = [_ds(spec.pixel_spacing[0]), _ds(spec.pixel_spacing[1])]
    base.SliceThickness = _ds(spec.slice_spacing)
    base.ImageOrientationPatient = [_ds(v) for v in (*geometry.row, *geometry.column)]
    base.RescaleIntercept = _ds(spec.rescale_intercept)
    base.RescaleSlope = _ds(spec.rescale_slope)
    if spec.gantry_tilt_deg:
        base.GantryDetectorTilt = _ds(spec.gantry_tilt_deg)
    return base


def build_slice_dataset(base: Dataset, spec: WriteSpec, series: int, geometry: SeriesGeometry, index: int, frame: np.ndarray) -> Dataset:
    """One single-frame file: ``base`` plus the slice's UIDs, position and encoded pixels.

    Parameters
    ----------
    base : Dataset
        From :func:`build_series_dataset` (copied, not changed).
    spec : WriteSpec
    series : int
    geometry : SeriesGeometry
    index : int
        Acquisition index of the slice in its series.
    frame : numpy.ndarray
        Stored values ``(rows, columns)``.

    Returns
    -------
    pydicom.dataset.Dataset
        With file meta, ready to save.
    """
    ipp = geometry.positions[index]
    ds = copy.deepcopy(base)
    sop = _uid(spec.seed, "sop", series, index, spec.variant)
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = CT_IMAGE_STORAGE
    ds.file_meta.MediaStorageSOPInstanceUID = sop
    ds.SOPInstanceUID = sop
    ds.InstanceNumber = (spec.series_slices(series) - index) if spec.reverse_instance_numbers else index + 1
    ds.ImagePositionPatient = [_ds(v) for v in ipp]
    ds.SliceLocation = _ds(float(np.dot(ipp, geometry.normal)))
    _encode(ds, frame[None], spec.transfer_syntax)
    return ds


def _classic_frames(ds: Dataset, geometry: SeriesGeometry) -> None:
    """Classic multi-frame (RT dose style): the first IPP and offsets along the normal."""
    acquisition = geometry.acquisition
    first_ipp = acquisition[0][1]
    ds.file_meta.MediaStorageSOPClassUID = CT_IMAGE_STORAGE
    ds.ImagePositionPatient = [_ds(v) for v in first_ipp]
    ds.GridFrameOffsetVector = [_ds(float(np.dot(p - first_ipp, geometry.normal))) for _a, p in acquisition]
    ds.FrameIncrementPointer = Tag(0x3004, 0x000C)


def _enhanced_frames(ds: Dataset, base: Dataset, spec: WriteSpec, series: int, geometry: SeriesGeometry) -> None:
    """Enhanced CT: shared and per-frame functional groups, dimensions (StackID, position)."""
    ds.SOPClassUID = ENHANCED_CT_IMAGE_STORAGE
    ds.file_meta.MediaStorageSOPClassUID = ENHANCED_CT_IMAGE_STORAGE
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL", "NONE"]
    for key in ("ImageOrientationPatient", "PixelSpacing", "SliceThickness", "RescaleIntercept", "RescaleSlope", "RescaleType"):
        if key in ds:
            delattr(ds, key)
    shared = Dataset()
    measures = Dataset()
    measures.PixelSpacing = base.PixelSpacing
    measures.SliceThickness = base.SliceThickness
    shared.PixelMeasuresSequence = DicomSequence([measures])
    orient = Dataset()
    orient.ImageOrientationPatient = base.ImageOrientationPatient
    shared.PlaneOrientationSequence = DicomSequence([orient])
    transform = Dataset()
    transform.RescaleIntercept = base.RescaleIntercept
    transform.RescaleSlope = base.RescaleSlope
    transform.RescaleType = "HU"
    shared.PixelValueTransformationSequence = DicomSequence([transform])
    frame_type = Dataset()
    frame_type.FrameType = ["ORIGINAL", "PRIMARY", "AXIAL", "NONE"]
    shared.CTImageFrameTypeSequence = DicomSequence([frame_type])
    voi = Dataset()
    voi.WindowCenter = base.WindowCenter
    voi.WindowWidth = base.WindowWidth
    shared.FrameVOILUTSequence = DicomSequence([voi])
    _add_dimensions(ds, _uid(spec.seed, "dimensions", series, spec.variant))
    ds.SharedFunctionalGroupsSequence = DicomSequence([shared])
    temporal = spec.tags.get("TemporalPositionIdentifier")
    per_frame = []
    for f, (_a, ipp) in enumerate(geometry.acquisition):
        item = Dataset()
        pos = Dataset()
        pos.ImagePositionPatient = [_ds(v) for v in ipp]
        item.PlanePositionSequence = DicomSequence([pos])
        content = Dataset()
        content.StackID = "1"
        content.InStackPositionNumber = f + 1
        content.DimensionIndexValues = [1, f + 1]
        if temporal is not None:
            content.TemporalPositionIndex = int(temporal)
        item.FrameContentSequence = DicomSequence([content])
        per_frame.append(item)
    ds.PerFrameFunctionalGroupsSequence = DicomSequence(per_frame)


def build_multiframe_dataset(base: Dataset, spec: WriteSpec, series: int, geometry: SeriesGeometry, frames: np.ndarray) -> Dataset:
    """One multi-frame file holding every written slice of a series (classic or enhanced).

    Parameters
    ----------
    base : Dataset
        From :func:`build_series_dataset` (copied, not changed).
    spec : WriteSpec
        ``spec.multiframe`` is CLASSIC or ENHANCED.
    series : int
    geometry : SeriesGeometry
    frames : numpy.ndarray
        Stored values ``(frames, rows, columns)`` in acquisition order.

    Returns
    -------
    pydicom.dataset.Dataset
        With file meta, ready to save.
    """
    if spec.multiframe is MultiFrame.NONE:
        raise ValueError("build_multiframe_dataset needs spec.multiframe CLASSIC or ENHANCED")
    ds = copy.deepcopy(base)
    sop = _uid(spec.seed, "sop", series, "mf", spec.variant)
    ds.file_meta = FileMetaDataset()
    ds.SOPInstanceUID = sop
    ds.InstanceNumber = 1
    ds.NumberOfFrames = len(geometry.written)
    if spec.multiframe is MultiFrame.CLASSIC:
        _classic_frames(ds, geometry)
    else:
        _enhanced_frames(ds, base, spec, series, geometry)
    ds.file_meta.MediaStorageSOPInstanceUID = sop
    _encode(ds, frames, spec.transfer_syntax)
    return ds


# --- 4. the writer ---------------------------------------------------------------------------


def _file_name(spec: WriteSpec, series: int, index: int | None, names: random.Random) -> str:
    """``IM0001.dcm``, ``S2IM0001.dcm``, ``MF01.dcm`` (after ``variant``), or random hex."""
    if spec.shuffle_names:
        name = f"{names.getrandbits(64):016x}"
    elif index is None:
        name = f"{spec.variant}MF{series + 1:02d}"
    elif spec.n_series == 1:
        name = f"{spec.variant}IM{index + 1:04d}"
    else:
        name = f"{spec.variant}S{series + 1}IM{index + 1:04d}"
    return name + spec.suffix


def _write_file(ds: Dataset, path: Path) -> Path:
    _save(ds, path)
    return path


def write_spec(
    outdir: str | os.PathLike[str],
    spec: WriteSpec,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> PhantomResult:
    """Write the files of ``spec`` into ``outdir``: what :func:`write_phantom` does.

    Parameters
    ----------
    outdir : path
        Created if needed.
    spec : WriteSpec
    progress : callable, optional
        ``progress(done, total)`` per slice.

    Returns
    -------
    PhantomResult
    """
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    model = spec.model()
    rng = np.random.default_rng(spec.seed) if spec.noise_sd > 0 else None
    names = random.Random(f"{spec.seed}{spec.variant}")
    files: list[Path] = []
    series_uids: list[str] = []
    series_files: list[list[Path]] = []
    series_positions: list[list[tuple[float, float, float]]] = []
    geometries: list[SeriesGeometry] = []
    total = spec.total_frames
    done = 0
    for s in range(spec.n_series):
        geometry = series_geometry(spec, s)
        geometries.append(geometry)
        series_uids.append(_series_uid(spec, s))
        base = build_series_dataset(spec, s, geometry)
        acquisition = geometry.acquisition
        series_positions.append([(float(p[0]), float(p[1]), float(p[2])) for _a, p in acquisition])
        frames = []
        for _a, ipp in acquisition:
            frames.append(render_slice(spec, model, geometry, ipp, rng))
            done += 1
            if progress is not None:
                progress(done, total)
        this_files: list[Path] = []
        if spec.multiframe is MultiFrame.NONE:
            for (a, _ipp), frame in zip(acquisition, frames):
                ds = build_slice_dataset(base, spec, s, geometry, a, frame)
                this_files.append(_write_file(ds, out / _file_name(spec, s, a, names)))
        else:
            ds = build_multiframe_dataset(base, spec, s, geometry, np.stack(frames))
            this_files.append(_write_file(ds, out / _file_name(spec, s, None, names)))
        files.extend(this_files)
        series_files.append(this_files)
    r, c = geometries[0].row, geometries[0].column
    return PhantomResult(
        outdir=out,
        files=files,
        spec=model,
        series_uids=series_uids,
        rows=spec.rows,
        columns=spec.columns,
        slices=spec.slices,
        pixel_spacing=(float(spec.pixel_spacing[0]), float(spec.pixel_spacing[1])),
        slice_spacing=float(spec.slice_spacing),
        orientation=spec.orientation,
        row_direction=(float(r[0]), float(r[1]), float(r[2])),
        column_direction=(float(c[0]), float(c[1]), float(c[2])),
        positions=series_positions[0],
        series_files=series_files,
        series_positions=series_positions,
    )


def write_phantom(
    outdir: str | os.PathLike[str],
    *,
    rows: int = 128,
    columns: int = 128,
    slices: int = 64,
    pixel_spacing: tuple[float, float] = (1.5, 1.5),
    slice_spacing: float = 2.0,
    orientation: PhantomOrientation = PhantomOrientation.AXIAL,
    feet_first: bool = False,
    gantry_tilt_deg: float = 0.0,
    shuffle_names: bool = False,
    suffix: str = ".dcm",
    reverse_instance_numbers: bool = False,
    n_series: int = 1,
    noise_sd: float = 0.0,
    seed: int = 0,
    transfer_syntax: TransferSyntax = TransferSyntax.EXPLICIT_LITTLE,
    multiframe: MultiFrame = MultiFrame.NONE,
    rescale_intercept: float = -1024.0,
    rescale_slope: float = 1.0,
    patient_name: str = "Phantom^Test",
    patient_id: str = "PHANTOM001",
    modality: str = "CT",
    skip_slices: Sequence[int] = (),
    partial_volume: bool = False,
    sphere_radius_mm: float | None = None,
    sphere_hu: float | None = None,
    extra_tags: dict[str, Any] | None = None,
    variant: str = "",
    progress: Callable[[int, int], None] | None = None,
) -> PhantomResult:
    """Write a synthetic CT series (or several) with known geometry and content.

    Parameters
    ----------
    outdir : path
        Created if needed; all series go into this one folder.
    rows, columns, slices : int
        Grid size.
    pixel_spacing : tuple of float
        DICOM order: (row spacing, column spacing) in mm; they may differ.
    slice_spacing : float
        Distance between slices in mm (along the table when tilted).
    orientation : PhantomOrientation
        Axial, coronal, sagittal or a genuinely oblique plane.
    feet_first : bool
        Write positions in descending order along the normal (PatientPosition FFS).
    gantry_tilt_deg : float
        Tilt the column direction about x and step slices along the table: a sheared stack.
    shuffle_names : bool
        Random hex file names instead of ``IM0001``...
    suffix : str
        File name suffix ("" for none).
    reverse_instance_numbers : bool
        InstanceNumber counts down along the acquisition.
    n_series : int
        Series in the folder; series 2.. have 2 fewer slices each and their own UID.
    noise_sd : float
        Gaussian noise in HU (seeded by ``seed``).
    seed : int
        Makes UIDs, names and noise reproducible.
    transfer_syntax : TransferSyntax
    multiframe : MultiFrame
    rescale_intercept, rescale_slope : float
        Stored = round((HU - intercept) / slope).
    patient_name, patient_id, modality : str
    skip_slices : sequence of int
        Acquisition indices not written (a gap).
    partial_volume : bool
        Voxels on a boundary hold the average of the model over the voxel (27 samples), as
        in a real scan; otherwise every voxel holds the model at its centre (hard edges).
    sphere_radius_mm, sphere_hu : float, optional
        Override the bone sphere's radius and value (a beating sphere, an echo's contrast).
    extra_tags : dict, optional
        Attributes (by keyword) set on every file, e.g. TemporalPositionIdentifier.
    variant : str
        Distinguishes the SOP instance UIDs and file names of several calls that write
        frames of one series into one folder (same ``seed``: same study and series UIDs).
    progress : callable, optional
        ``progress(done, total)`` per slice.

    Returns
    -------
    PhantomResult
        Files in acquisition order, the spec, UIDs and the written geometry.

    Raises
    ------
    ValueError
        Non-positive sizes or spacings, a zero slope, ``skip_slices`` that leave nothing, or
        a gantry tilt on a non-axial series or with ``MultiFrame.CLASSIC`` (whose
        GridFrameOffsetVector cannot describe a sheared stack), or JPEG2000_LOSSLESS on a
        grid with fewer than 32 rows or columns (openjpeg cannot encode it).

    See Also
    --------
    WriteSpec, series_geometry, build_series_dataset, build_slice_dataset,
    build_multiframe_dataset, write_spec : the steps this function runs.

    Notes
    -----
    The grid is centred on the patient origin and the model is scaled to the smallest
    extent of the grid (``min(columns*PixelSpacing[1], rows*PixelSpacing[0],
    slices*slice_spacing)``). Each voxel holds the model at
    ``IPP + i*PixelSpacing[1]*r + j*PixelSpacing[0]*c`` computed from the values as
    written (IPP and IOP are rounded to 6 decimals first). Stored values are
    ``round((HU - intercept) / slope)``: uint16 with 12 bits stored when -1024..3071 HU
    maps into 0..4095 (the default intercept -1024), otherwise int16 with 16 bits stored;
    values are clipped to that range.

    Examples
    --------
    >>> res = write_phantom(tmp_path, rows=32, columns=32, slices=8)  # doctest: +SKIP
    >>> len(res.files), res.spec.sphere_hu  # doctest: +SKIP
    (8, 1000.0)
    """
    spec = WriteSpec(
        rows=rows,
        columns=columns,
        slices=slices,
        pixel_spacing=pixel_spacing,
        slice_spacing=slice_spacing,
        orientation=orientation,
        feet_first=feet_first,
        gantry_tilt_deg=gantry_tilt_deg,
        shuffle_names=shuffle_names,
        suffix=suffix,
        reverse_instance_numbers=reverse_instance_numbers,
        n_series=n_series,
        noise_sd=noise_sd,
        seed=seed,
        transfer_syntax=transfer_syntax,
        multiframe=multiframe,
        rescale_intercept=rescale_intercept,
        rescale_slope=rescale_slope,
        patient_name=patient_name,
        patient_id=patient_id,
        modality=modality,
        skip_slices=frozenset(int(k) for k in skip_slices),
        partial_volume=partial_volume,
        sphere_radius_mm=sphere_radius_mm,
        sphere_hu=sphere_hu,
        extra_tags=tuple((extra_tags or {}).items()),
        variant=variant,
    )
    return write_spec(outdir, spec, progress=progress)


class SequenceKind(enum.Enum):
    """The fourth axis of a phantom sequence."""

    TIME = "time"
    ECHO = "echo"
    DIFFUSION = "diffusion"


@dataclasses.dataclass
class SequenceResult:
    """What :func:`write_sequence` wrote: one PhantomResult per frame, in frame order."""

    outdir: Path
    kind: SequenceKind
    frames: list[PhantomResult]
    values: list[float]

    @property
    def radii(self) -> list[float]:
        """The sphere radius of each frame (mm)."""
        return [f.spec.sphere_radius for f in self.frames]


def write_sequence(
    outdir: str | os.PathLike[str],
    *,
    kind: SequenceKind = SequenceKind.TIME,
    frames: int = 6,
    multiframe: MultiFrame = MultiFrame.NONE,
    shuffle_names: bool = True,
    seed: int = 7,
    **options: Any,
) -> SequenceResult:
    """A 4D phantom series in one folder: a beating sphere, echoes or b-values.

    TIME: the sphere's radius follows a heartbeat, frame ``t`` at TriggerTime ``t*80`` ms
    (TemporalPositionIdentifier ``t+1``). ECHO: EchoNumbers 1..n, EchoTime 10, 20 ... ms,
    the sphere darker at later echoes. DIFFUSION: DiffusionBValue 0, 500, 1000 ...
    ``multiframe=ENHANCED`` writes one enhanced file per frame. Files are shuffled so that
    their order says nothing about the frame order.

    Parameters
    ----------
    outdir : path
        One folder for every frame.
    kind : SequenceKind
        What varies from frame to frame.
    frames : int
        Number of frames (time points, echoes or b-values).
    multiframe : MultiFrame
        Passed to :func:`write_phantom`.
    shuffle_names : bool
        Random file names (default True).
    seed : int
        One seed for all frames: they share the study and series UIDs.
    **options
        Other keyword arguments of :func:`write_phantom` (rows, columns, ...).

    Returns
    -------
    SequenceResult
        One :class:`PhantomResult` per frame, in frame order, and each frame's value
        (TriggerTime, EchoTime or b-value).
    """
    out = Path(outdir)
    r0 = _spec_for(options).sphere_radius
    by_frame: dict[int, PhantomResult] = {}
    values: list[float] = []
    order = list(range(frames))
    random.Random(seed).shuffle(order)  # write frames out of order too
    for t in range(frames):
        values.append(80.0 * t if kind is SequenceKind.TIME else 10.0 * (t + 1) if kind is SequenceKind.ECHO else 500.0 * t)
    for t in order:
        radius: float | None = None
        hu: float | None = None
        if kind is SequenceKind.TIME:
            tags: dict[str, Any] = {"TemporalPositionIdentifier": t + 1, "TriggerTime": _ds(values[t]), "NumberOfTemporalPositions": frames}
            radius = r0 * (1.0 + 0.25 * math.sin(2 * math.pi * t / frames))
        elif kind is SequenceKind.ECHO:
            tags = {"EchoNumbers": t + 1, "EchoTime": _ds(values[t])}
            hu = 1000.0 - 150.0 * t
        else:
            tags = {}
            hu = 1000.0 - 120.0 * t
        res = write_phantom(
            out,
            multiframe=multiframe,
            shuffle_names=shuffle_names,
            seed=seed,
            variant=f"F{t:03d}",
            extra_tags=tags,
            sphere_radius_mm=radius,
            sphere_hu=hu,
            **options,
        )
        if kind is SequenceKind.DIFFUSION:
            _add_bvalue(res, values[t])
        by_frame[t] = res
    return SequenceResult(out, kind, [by_frame[t] for t in range(frames)], values)


def _spec_for(options: dict[str, Any]) -> PhantomSpec:
    """The model :func:`write_phantom` would use for these grid options (no overrides)."""
    return _grid_model(
        int(options.get("rows", 128)),
        int(options.get("columns", 128)),
        int(options.get("slices", 64)),
        options.get("pixel_spacing", (1.5, 1.5)),
        float(options.get("slice_spacing", 2.0)),
    )


def _add_bvalue(res: PhantomResult, bvalue: float) -> None:
    """Set DiffusionBValue (0018,9087) and a gradient direction on every file of a frame."""
    for f in res.files:
        ds = pydicom.dcmread(f)
        ds.DiffusionBValue = float(bvalue)
        ds.DiffusionGradientOrientation = [1.0, 0.0, 0.0] if bvalue else [0.0, 0.0, 0.0]
        ds.save_as(f)
