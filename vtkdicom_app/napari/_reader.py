"""The napari reader: DICOM folders (or files) to image layers placed in patient space.

World axes
----------
napari's world coordinates are **LPS millimetres in the order (z, y, x)**: world axis 0 is
z (towards the patient's Superior), axis 1 is y (Posterior), axis 2 is x (the patient's
Left). napari's default 2D view slices along world axis 0 and shows axis 1 down the screen and
axis 2 across it, which is the radiological axial view: anterior at the top, the patient's
right on the screen's left. A 4D series has one more leading world axis, the frame index
(time, echo or b-value order; the values are in the layer's metadata).

Each layer's ``affine`` maps its data index to that world: ``world = affine @ (index, 1)``.
The array is the volume's ``(k, j, i)`` array, transposed and flipped (numpy views, no copy)
so that each data axis runs along the world axis it is closest to; for an axial, coronal or
sagittal series the affine is then a pure scale and translation, and napari slices it like
any image. An oblique series keeps its remaining rotation in the affine: its 3D view and
every coordinate napari reports are exact, while napari's 2D slicing shows the planes of the
data (napari does not resample obliquely). ``layer.metadata["vtkdicom_app"]`` holds the
series' own geometry (``lps_affine``: index ``(i, j, k)`` of the loaded volume to LPS) and the
index mapping.

Lazy imports
------------
Importing this module imports only the standard library. :func:`get_reader` reads a few
headers with the package's struct-based reader (no VTK, no pydicom); the loader, numpy and
whatever decoders the files need are imported when a DICOM path is read.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from vtkdicom_app.io.loader import SeriesInfo
    from vtkdicom_app.volume import Volume

__all__ = ["get_reader", "read_dicom", "layer_data", "lps_layer_affine", "is_dicom_path", "WORLD_AXES", "MAX_FILES_SNIFFED"]

LayerData = tuple[Any, dict[str, Any], str]
PathLike = str | os.PathLike[str]

WORLD_AXES = ("z", "y", "x")
"""napari world axes of every layer: LPS millimetres, z (Superior), y (Posterior), x (Left)."""
MAX_FILES_SNIFFED = 2000
"""Files of a folder whose headers :func:`get_reader` reads before it declines."""


def _paths(path: PathLike | Sequence[PathLike]) -> list[str]:
    if isinstance(path, (str, os.PathLike)):
        return [os.fspath(path)]
    return [os.fspath(p) for p in path]


def _candidates(path: str) -> Iterator[str]:
    if os.path.isfile(path):
        yield path
        return
    for root, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith("."):
                yield os.path.join(root, name)


def is_dicom_path(path: PathLike, *, max_files: int = MAX_FILES_SNIFFED) -> bool:
    """Whether a file is DICOM, or a folder holds a DICOM file among its first ``max_files``.

    Files are judged by content (the loader's own header reader), never by name.
    """
    from vtkdicom_app.io.header import NeedsPydicom, NotDicom, read_header

    for n, candidate in enumerate(_candidates(os.fspath(path))):
        if n >= max_files:
            return False
        try:
            read_header(candidate)
        except NeedsPydicom:
            return True  # DICOM that needs pydicom (big endian, deflate...)
        except NotDicom:
            continue
        except Exception:  # noqa: BLE001 - unreadable or odd file: not ours to judge, keep looking
            continue
        return True
    return False


def get_reader(path: PathLike | Sequence[PathLike]) -> Callable[[Any], list[LayerData]] | None:
    """npe2 reader contribution: :func:`read_dicom` for DICOM, None for anything else.

    Parameters
    ----------
    path : str or list of str
        A folder, a file, or several of them (napari passes a list for a multiple selection).

    Returns
    -------
    callable or None
        None (so that other readers can try) when a path does not exist or holds no DICOM.
    """
    paths = _paths(path)
    if not paths or not all(os.path.exists(p) for p in paths):
        return None
    if not all(is_dicom_path(p) for p in paths):
        return None
    return read_dicom


def lps_layer_affine(
    shape: Sequence[int], origin: Sequence[float], spacing: Sequence[float], direction: Any, *, reorient: bool = True
) -> tuple[tuple[int, ...], tuple[bool, ...], np.ndarray]:
    """How to lay a ``(k, j, i)`` array in napari's world (LPS mm as z, y, x).

    Parameters
    ----------
    shape : sequence of int
        ``(k, j, i)``.
    origin, spacing, direction
        The volume's geometry (:class:`~vtkdicom_app.volume.Volume`).
    reorient : bool
        Transpose and flip the data axes onto their nearest world axes (default); False keeps
        the array as it is and puts the whole direction in the affine.

    Returns
    -------
    axes : tuple of int
        ``array.transpose(axes)`` gives the layer's axis order.
    flips : tuple of bool
        Then reverse these layer axes.
    affine : numpy.ndarray
        4x4, layer index ``(a0, a1, a2, 1)`` to world ``(z, y, x, 1)`` in mm.
    """
    import numpy as np

    from vtkdicom_app.geometry import affine as lps_affine

    m = lps_affine(origin, spacing, direction)  # (i, j, k, 1) -> LPS
    rev = np.eye(3)[::-1]
    a = rev @ m[:3, :3] @ rev  # data (k, j, i) -> world (z, y, x)
    t = rev @ m[:3, 3]
    perm = [0, 1, 2]
    if reorient:
        weight = np.abs(a) / np.linalg.norm(a, axis=0)
        taken: dict[int, int] = {}  # world axis -> data axis, strongest pairs first
        for flat in np.argsort(-weight, axis=None):
            w, d = divmod(int(flat), 3)
            if w not in taken and d not in taken.values():
                taken[w] = d
        perm = [taken[w] for w in range(3)]
    p = np.zeros((3, 3))
    c = np.zeros(3)
    flips = []
    for new_axis, old_axis in enumerate(perm):
        flip = bool(reorient and a[new_axis, old_axis] < 0)
        flips.append(flip)
        p[old_axis, new_axis] = -1.0 if flip else 1.0
        c[old_axis] = (shape[old_axis] - 1) if flip else 0.0
    affine = np.eye(4)
    affine[:3, :3] = a @ p
    affine[:3, 3] = a @ c + t
    return tuple(perm), tuple(flips), affine


def _oriented(array: np.ndarray, axes: tuple[int, ...], flips: tuple[bool, ...], lead: int) -> np.ndarray:
    """Transpose and flip the three spatial axes that follow ``lead`` leading axes (views only)."""
    order = list(range(lead)) + [lead + a for a in axes] + list(range(lead + 3, array.ndim))
    out = array.transpose(order)
    index = [slice(None)] * out.ndim
    for n, flip in enumerate(flips):
        if flip:
            index[lead + n] = slice(None, None, -1)
    return out[tuple(index)]


def _contrast(vol: Volume) -> tuple[float, float] | None:
    from vtkdicom_app.display import auto_window_level, window_level_from_header

    if vol.is_colour:
        return None
    wl = window_level_from_header(vol) or auto_window_level(vol)
    return (wl.level - wl.window / 2.0, wl.level + wl.window / 2.0)


def layer_data(vol: Volume, *, name: str = "", frames: np.ndarray | None = None, frame_info: dict[str, Any] | None = None, reorient: bool = True) -> LayerData:
    """One napari image layer of a volume (or of a 4D sequence's frames), in LPS world axes.

    Parameters
    ----------
    vol : Volume
        The geometry (and the voxels when ``frames`` is None).
    name : str
        Layer name.
    frames : numpy.ndarray, optional
        ``(t, k, j, i)`` voxels of a sequence sharing ``vol``'s grid: the frame axis comes first.
    frame_info : dict, optional
        Recorded in the metadata (axis, values, unit, labels).
    reorient : bool
        See :func:`lps_layer_affine`.

    Returns
    -------
    tuple
        ``(data, kwargs, "image")`` as napari readers return.
    """
    import numpy as np

    axes, flips, affine = lps_layer_affine(vol.shape, vol.origin, vol.spacing, vol.direction, reorient=reorient)
    lead = 0 if frames is None else 1
    data = _oriented(vol.array if frames is None else frames, axes, flips, lead)
    if lead:
        big = np.eye(5)
        big[1:, 1:] = affine
        affine = big
    meta: dict[str, Any] = {
        "world_axes": ("frame",) * lead + WORLD_AXES,
        "world_units": "LPS mm",
        "lps_affine": vol.affine.copy(),
        "layer_axes_from_kji": axes,
        "layer_axes_flipped": flips,
        "modality": vol.modality,
        "series_description": str(vol.metadata.get("SeriesDescription", "")),
        "series_instance_uid": str(vol.metadata.get("SeriesInstanceUID", "")),
        "warnings": list(vol.warnings),
    }
    if frame_info:
        meta["frames"] = dict(frame_info)
    kwargs: dict[str, Any] = {
        "name": name or meta["series_description"] or "DICOM",
        "affine": affine,
        "metadata": {"vtkdicom_app": meta},
        "rgb": bool(vol.is_colour),
    }
    contrast = _contrast(vol)
    if contrast is not None:
        kwargs["contrast_limits"] = contrast
        kwargs["colormap"] = "gray"
    return (data, kwargs, "image")


def _layer_name(info: SeriesInfo) -> str:
    number = f"{info.number}: " if info.number is not None else ""
    return f"{number}{info.description or info.modality or info.uid}"


def read_dicom(path: PathLike | Sequence[PathLike]) -> list[LayerData]:
    """Read every image series under ``path`` as a napari image layer.

    A 4D series (time, echo, diffusion) becomes one layer with the frame axis first
    (:func:`vtkdicom_app.load_sequence`); series that fail to load are left out with a warning.

    Parameters
    ----------
    path : str or list of str
        Folders, files or a DICOMDIR.

    Returns
    -------
    list of tuple
        ``(data, kwargs, "image")`` per series, in SeriesNumber order.
    """
    import warnings

    import numpy as np

    from vtkdicom_app.errors import VtkDicomError
    from vtkdicom_app.io.loader import load, load_sequence, scan

    source: Any = _paths(path)
    series = scan(source[0] if len(source) == 1 else source)
    layers: list[LayerData] = []
    for info in series:
        if info.error:
            warnings.warn(f"{_layer_name(info)}: {info.error}", stacklevel=2)
            continue
        try:
            if info.n_frames > 1:
                seq = load_sequence(series, series=info.uid)
                frames = np.stack([v.array for v in seq])
                frame_info = {"axis": seq.axis, "values": list(seq.values), "unit": seq.unit, "labels": list(seq.labels)}
                layers.append(layer_data(seq[0], name=_layer_name(info), frames=frames, frame_info=frame_info))
            else:
                vol = load(info)
                layers.append(layer_data(vol, name=_layer_name(info)))
                layers.extend(_segmentation_layers(vol, info))
        except VtkDicomError as exc:
            warnings.warn(f"{_layer_name(info)}: not loaded: {exc}", stacklevel=2)
    return layers


def labels_layer_data(vol: Volume, model: Any, *, name: str) -> LayerData:
    """A napari labels layer of a segmentation on ``vol``'s grid, aligned with its image layer.

    Segment ``n`` (in the model's order) is label ``n + 1``; where segments overlap the
    later one wins. Names and colours are in the layer's metadata.
    """
    labels, _overlapping = model.labelmap()
    data, kwargs, _kind = layer_data(vol.with_array(labels), name=name)
    kwargs.pop("contrast_limits", None)
    kwargs.pop("colormap", None)
    kwargs.pop("rgb", None)
    kwargs["metadata"]["vtkdicom_app"]["segments"] = [
        {"label": n, "name": seg.name, "color": list(seg.color)} for n, seg in enumerate(model.segments, start=1)
    ]
    return (data, kwargs, "labels")


def _segmentation_layers(vol: Volume, info: SeriesInfo) -> list[LayerData]:
    """Labels layers of the DICOM SEG files that reference this series (``info.segmentations``)."""
    import warnings

    from vtkdicom_app.errors import VtkDicomError
    from vtkdicom_app.segmentation import load_segmentation

    out: list[LayerData] = []
    for path in info.segmentations:
        try:
            model = load_segmentation(path, reference=vol)
        except VtkDicomError as exc:
            warnings.warn(f"{os.path.basename(path)}: segmentation not shown: {exc}", stacklevel=3)
            continue
        out.append(labels_layer_data(vol, model, name=f"{_layer_name(info)} segments ({os.path.basename(path)})"))
    return out
