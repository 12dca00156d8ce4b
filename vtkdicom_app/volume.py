"""The :class:`Volume` type: voxels plus their geometry in patient space (LPS, mm).

Axis order
----------
numpy arrays are indexed ``array[k, j, i]`` (slice, row, column); VTK and every geometry
function here use ``(i, j, k)``. ``spacing`` is ``(di, dj, dk)``: the column step (i), the
row step (j) and the slice step (k), in mm.

Geometry
--------
A voxel index ``(i, j, k)`` maps to the patient (LPS) point::

    P = origin + direction @ (spacing * (i, j, k))

``direction`` holds the unit axis vectors as columns: the DICOM row direction (along which
``i`` grows), the column direction (along which ``j`` grows) and the slice normal
``n = r x c``. Its determinant is +1 for every volume the loader makes.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from vtkdicom_app import geometry

if TYPE_CHECKING:  # pragma: no cover
    from vtkmodules.vtkCommonDataModel import vtkImageData

__all__ = ["Volume", "VolumeSequence", "SequenceAxis"]


class SequenceAxis(str, enum.Enum):
    """The fourth axis of a :class:`VolumeSequence` (a str enum: equal to its value)."""

    TIME = "time"
    ECHO = "echo"
    DIFFUSION = "diffusion"
    INDEX = "index"  # volumes told apart by type, label/control or InstanceNumber only


def _as_points(values: npt.ArrayLike) -> tuple[np.ndarray, bool]:
    pts = np.asarray(values, dtype=np.float64)
    single = pts.ndim == 1
    pts = np.atleast_2d(pts)
    if pts.shape[-1] != 3:
        raise ValueError(f"expected points with 3 coordinates, got shape {pts.shape}")
    return pts, single


@dataclasses.dataclass(eq=False)
class Volume:
    """A 3D image in patient space.

    Parameters
    ----------
    array : numpy.ndarray
        Voxel values, shape ``(k, j, i)`` = (slices, rows, columns), real-world values
        (RescaleSlope/Intercept applied): int16 when exact, float32 otherwise. Colour
        images (RGB) are ``(k, j, i, 3)`` uint8 (see :attr:`is_colour`).
    spacing : tuple of float
        ``(di, dj, dk)`` in mm: column step, row step, slice step.
    origin : tuple of float
        LPS position in mm of the centre of voxel ``(0, 0, 0)``.
    direction : numpy.ndarray
        3x3 matrix whose columns are the unit vectors of the i, j and k axes in LPS.
    metadata : dict
        Plain values of selected DICOM attributes (PatientID, Modality, SeriesDescription,
        WindowCenter, WindowWidth, ...) as the files hold them. What the library computes
        with lives in the typed fields below.
    warnings : list of str
        Human-readable warnings raised while loading (also emitted with :mod:`warnings`).
    geometry_known : bool
        False when the files lacked ImagePositionPatient/ImageOrientationPatient: the
        geometry is then a unit-spaced identity guess and mesh export refuses it.
    files : list of str
        The files the slices came from, in slice order (one entry per slice, or one
        multi-frame file).
    modality : str
        DICOM Modality in upper case (``"CT"``, ``"MR"``, ``"PT"``...); empty when unknown.
        Defaults to ``metadata["Modality"]``.
    padding_value : float, optional
        The value of voxels outside the scanned field (PixelPaddingValue), in the same
        real-world units as ``array`` (the stored value with the rescale applied); None
        when the series declares none.
    invert_display : bool
        Show low values white (MONOCHROME1 radiographs).
    gantry_tilt_deg : float
        Gantry tilt detected from the slice positions (0 for an orthogonal stack).
    tilt_corrected : bool
        The tilted stack was resampled onto an orthogonal grid
        (``load(..., correct_tilt=True)``).
    owner : object, optional
        Whatever owns ``array``'s memory when it is a view (e.g. the ``vtkImageData`` of
        :func:`vtkdicom_app.bridge.image_to_volume` with ``copy=False``); kept alive with
        the volume and its copies.

    Examples
    --------
    >>> import numpy as np
    >>> vol = Volume(np.zeros((2, 3, 4), np.int16), spacing=(0.5, 0.5, 2.0))
    >>> vol.index_to_patient((1, 0, 1))
    array([0.5, 0. , 2. ])
    """

    array: np.ndarray
    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)
    origin: tuple[float, float, float] = (0.0, 0.0, 0.0)
    direction: np.ndarray = dataclasses.field(default_factory=lambda: np.eye(3))
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)
    warnings: list[str] = dataclasses.field(default_factory=list)
    geometry_known: bool = True
    files: list[str] = dataclasses.field(default_factory=list)
    modality: str = ""
    padding_value: float | None = None
    invert_display: bool = False
    gantry_tilt_deg: float = 0.0
    tilt_corrected: bool = False
    owner: Any = dataclasses.field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        colour = self.array.ndim == 4 and self.array.shape[3] == 3
        if self.array.ndim != 3 and not colour:
            raise ValueError(f"a Volume needs a 3D array (k, j, i) or an RGB array (k, j, i, 3), got shape {self.array.shape}")
        self.spacing = tuple(float(s) for s in self.spacing)  # type: ignore[assignment]
        self.origin = tuple(float(o) for o in self.origin)  # type: ignore[assignment]
        self.direction = np.array(self.direction, dtype=np.float64).reshape(3, 3)
        if min(self.spacing) <= 0 or not np.all(np.isfinite(self.spacing)):
            raise ValueError(f"spacing must be positive and finite, got {self.spacing}")
        self.modality = str(self.modality or self.metadata.get("Modality") or "").strip().upper()
        if "invert_display" in self.metadata:  # the key older versions kept in metadata
            self.invert_display = self.invert_display or bool(self.metadata.pop("invert_display"))
        if self.padding_value is not None:
            self.padding_value = float(self.padding_value)
        self.invert_display = bool(self.invert_display)
        self.gantry_tilt_deg = float(self.gantry_tilt_deg)
        self.tilt_corrected = bool(self.tilt_corrected)

    # ------------------------------------------------------------------ geometry
    @property
    def is_colour(self) -> bool:
        """True for an RGB volume (``array`` of shape ``(k, j, i, 3)``)."""
        return self.array.ndim == 4

    @property
    def shape(self) -> tuple[int, int, int]:
        """Grid shape ``(k, j, i)`` (without the colour axis of an RGB volume)."""
        k, j, i = self.array.shape[:3]
        return (int(k), int(j), int(i))

    @property
    def dimensions(self) -> tuple[int, int, int]:
        """Grid size in VTK order ``(ni, nj, nk)``."""
        k, j, i = self.array.shape[:3]
        return (i, j, k)

    @property
    def field_of_view(self) -> tuple[float, float, float]:
        """Extent in mm along i, j and k (number of voxels times spacing)."""
        return tuple(float(n * s) for n, s in zip(self.dimensions, self.spacing))  # type: ignore[return-value]

    @property
    def affine(self) -> np.ndarray:
        """4x4 matrix mapping homogeneous ``(i, j, k, 1)`` to LPS mm."""
        return geometry.affine(self.origin, self.spacing, self.direction)

    @property
    def corners(self) -> np.ndarray:
        """The eight corner voxel centres in LPS mm, shape ``(8, 3)``."""
        return geometry.grid_corners(self.dimensions, self.affine)

    def with_array(self, array: np.ndarray, **changes: Any) -> Volume:
        """A copy on another array of the same grid (or with ``changes`` to other fields),
        keeping the geometry, metadata and typed fields."""
        return dataclasses.replace(self, array=array, **changes)

    def index_to_patient(self, ijk: npt.ArrayLike) -> np.ndarray:
        """Map voxel indices ``(i, j, k)`` (may be fractional) to LPS points in mm.

        Parameters
        ----------
        ijk : array_like
            One index triple or an ``(N, 3)`` array of them, in ``(i, j, k)`` order.

        Returns
        -------
        numpy.ndarray
            Points of the same shape, LPS mm.
        """
        pts, single = _as_points(ijk)
        out = pts @ self.affine[:3, :3].T + np.asarray(self.origin)
        return out[0] if single else out

    def patient_to_index(self, xyz: npt.ArrayLike) -> np.ndarray:
        """Map LPS points in mm to continuous voxel indices ``(i, j, k)``.

        Parameters
        ----------
        xyz : array_like
            One point or an ``(N, 3)`` array of points, LPS mm.

        Returns
        -------
        numpy.ndarray
            Continuous indices ``(i, j, k)``; round them to address ``array[k, j, i]``.
        """
        pts, single = _as_points(xyz)
        inv = np.linalg.inv(self.affine[:3, :3])
        out = (pts - np.asarray(self.origin)) @ inv.T
        return out[0] if single else out

    def value_at(self, xyz: npt.ArrayLike) -> float:
        """Value of the voxel nearest to an LPS point (mm); raises IndexError outside."""
        i, j, k = (int(round(v)) for v in self.patient_to_index(xyz))
        if not (0 <= i < self.dimensions[0] and 0 <= j < self.dimensions[1] and 0 <= k < self.dimensions[2]):
            raise IndexError(f"point {tuple(np.ravel(xyz))} (index {(i, j, k)}) lies outside the volume")
        if self.is_colour:  # grey value of an RGB voxel (ITU-R BT.601 luma)
            r, g, b = (float(v) for v in self.array[k, j, i])
            return 0.299 * r + 0.587 * g + 0.114 * b
        return float(self.array[k, j, i])

    # ------------------------------------------------------------------ VTK
    def to_vtk(self, *, deep: bool = False) -> vtkImageData:
        """Return a ``vtkImageData`` carrying voxels, origin, spacing and direction.

        Parameters
        ----------
        deep : bool, default False
            False shares the numpy buffer with VTK (the VTK array keeps a reference to it, so
            it stays alive as long as the image); True copies.

        Returns
        -------
        vtkImageData
            Dimensions ``(ni, nj, nk)``; point scalars in VTK order (i fastest), which is
            exactly the C-order memory of ``array[k, j, i]`` (three components for RGB).
        """
        from vtkmodules.util.numpy_support import numpy_to_vtk
        from vtkmodules.vtkCommonDataModel import vtkImageData

        image = vtkImageData()
        image.SetDimensions(*self.dimensions)
        image.SetSpacing(*self.spacing)
        image.SetOrigin(*self.origin)
        image.SetDirectionMatrix(*self.direction.ravel())
        flat = np.ascontiguousarray(self.array).reshape(-1, 3) if self.is_colour else np.ascontiguousarray(self.array).reshape(-1)
        scalars = numpy_to_vtk(flat, deep=deep)
        scalars.SetName("values")
        image.GetPointData().SetScalars(scalars)
        return image

    def __repr__(self) -> str:
        return (
            f"Volume(shape(k,j,i)={self.shape}, dtype={self.array.dtype}, spacing={tuple(round(s, 4) for s in self.spacing)}, "
            f"origin={tuple(round(o, 3) for o in self.origin)}, warnings={len(self.warnings)})"
        )

    # ------------------------------------------------------------------ notebooks, pyvista
    def _repr_html_(self) -> str:
        """Jupyter's view: a summary table and a three-plane thumbnail, no patient identifiers
        unless :func:`vtkdicom_app.notebook.show_phi` turned them on."""
        from vtkdicom_app.notebook.summary import volume_html

        return volume_html(self)

    def to_pyvista(self, *, deep: bool = False) -> Any:
        """A ``pyvista.ImageData`` with spacing, origin and direction (LPS mm); see
        :func:`vtkdicom_app.interop.volume_to_pyvista`. Needs pyvista (the ``notebook`` extra)."""
        from vtkdicom_app.interop import volume_to_pyvista

        return volume_to_pyvista(self, deep=deep)


_AXIS_UNITS = {"time": "ms", "echo": "ms", "diffusion": "s/mm2", "index": ""}


class VolumeSequence:
    """Volumes sharing one geometry along a fourth axis (time, echo, diffusion or index).

    ``len(seq)``, ``seq[n]`` (a :class:`Volume`), ``seq.values`` (the axis value of each
    volume: trigger time or echo time in ms, b-value in s/mm2, the index for "index") and
    ``seq.array`` with shape ``(t, k, j, i)``. Volumes are read on demand when ``lazy`` (a
    sequence larger than the memory limit); otherwise all at once.

    Parameters
    ----------
    loaders : sequence of callables
        ``loaders[n]()`` returns volume ``n`` as a Volume.
    values : sequence of float
    axis : str or SequenceAxis
        "time", "echo", "diffusion" or "index".
    lazy : bool
        Keep no volume in memory; read each one when asked.
    labels : sequence of str, optional
        What tells each volume apart ("b=1000, direction=(1, 0, 0)", "EchoNumbers=2, ImageType=...").
    bvalues : sequence of float, optional
        Diffusion b-values (s/mm2), one per volume.
    gradients : sequence of (tuple of float or None), optional
        Diffusion gradient directions in patient coordinates (LPS), None for b = 0.
    warnings : sequence of str, optional
        Volumes left out (incomplete), count mismatches.
    """

    def __init__(
        self,
        loaders: list[Any],
        values: list[float],
        axis: str,
        *,
        lazy: bool = False,
        labels: list[str] | None = None,
        bvalues: list[float] | None = None,
        gradients: list[Any] | None = None,
        warnings: list[str] | None = None,
    ) -> None:
        if len(loaders) != len(values):
            raise ValueError("one value per frame")
        self._loaders = loaders
        self._cache: dict[int, Volume] = {}
        self.values = [float(v) for v in values]
        self.axis = str(axis.value if isinstance(axis, SequenceAxis) else axis)
        self.unit = _AXIS_UNITS.get(self.axis, "")
        self.lazy = lazy
        self.labels = list(labels) if labels is not None else ["" for _ in values]
        self.bvalues = [float(b) for b in bvalues] if bvalues is not None else None
        self.gradients = [None if g is None else tuple(float(x) for x in g) for g in gradients] if gradients is not None else None
        self.warnings = list(warnings or [])
        if not lazy:
            for n in range(len(loaders)):
                self._cache[n] = loaders[n]()

    def __len__(self) -> int:
        return len(self._loaders)

    def __getitem__(self, n: int) -> Volume:
        if n < 0:
            n += len(self)
        if not 0 <= n < len(self):
            raise IndexError(f"frame {n} of {len(self)}")
        if n in self._cache:
            return self._cache[n]
        return self._loaders[n]()

    def __iter__(self) -> Any:
        return (self[n] for n in range(len(self)))

    @property
    def array(self) -> np.ndarray:
        """All volumes as ``(t, k, j, i)`` (a new array; large for long sequences)."""
        return np.stack([self[n].array for n in range(len(self))])

    def bvecs_voxel(self) -> np.ndarray:
        """Gradient directions in the volume's voxel frame ``(i, j, k)``, shape ``(t, 3)``.

        ``g_voxel = direction.T @ g_lps`` (zeros for b = 0). FSL's ``.bvec`` convention
        additionally negates the i component when the NIfTI affine has a positive
        determinant; :func:`vtkdicom_app.io.formats.write_bval_bvec` does that.

        Raises
        ------
        ValueError
            The sequence is not a diffusion series.
        """
        if self.gradients is None:
            raise ValueError(f"a {self.axis} sequence has no diffusion gradients")
        d = self[0].direction
        out = np.zeros((len(self), 3))
        for n, g in enumerate(self.gradients):
            if g is not None:
                out[n] = d.T @ np.asarray(g, dtype=np.float64)
        return out

    def __repr__(self) -> str:
        first = self[0]
        return f"VolumeSequence({len(self)} frames along {self.axis}, values {self.values[0]:g}..{self.values[-1]:g} {self.unit}, frame shape {first.shape})"

    def _repr_html_(self) -> str:
        """Jupyter's view: the fourth axis, then frame 0's summary and thumbnail (no patient
        identifiers unless asked)."""
        from vtkdicom_app.notebook.summary import sequence_html

        return sequence_html(self)
