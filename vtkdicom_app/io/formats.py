"""Volumes in other formats users bring: NIfTI, NRRD, MetaImage and VTI, geometry kept.

Inside, everything is LPS (as DICOM and ITK). NIfTI's world is RAS, so its affine is
converted (x and y negated); NRRD files say their space and are converted when it is RAS;
MetaImage is LPS (ITK's convention); VTI carries origin, spacing and direction as they are.
Writes are atomic. A DICOM loaded here and saved as NIfTI opens in the same place in
SimpleITK, nibabel, Slicer or ITK-SNAP (checked against SimpleITK and nibabel in the tests).
"""

from __future__ import annotations

import enum
import os
from pathlib import Path
from typing import Any

import numpy as np

from vtkdicom_app.atomic import atomic_path
from vtkdicom_app.errors import VtkDicomError
from vtkdicom_app.geometry import LPS_TO_RAS, lps_to_ras_affine, ras_to_lps_affine
from vtkdicom_app.volume import Volume, VolumeSequence

__all__ = ["VolumeFormat", "read_volume", "write_volume", "write_sequence_nifti", "read_sequence_nifti", "write_bval_bvec", "fsl_bvecs"]

_MET_TYPES = {
    "MET_CHAR": np.int8,
    "MET_UCHAR": np.uint8,
    "MET_SHORT": np.int16,
    "MET_USHORT": np.uint16,
    "MET_INT": np.int32,
    "MET_UINT": np.uint32,
    "MET_FLOAT": np.float32,
    "MET_DOUBLE": np.float64,
}


class VolumeFormat(enum.Enum):
    """Volume file formats, by suffix."""

    NIFTI = ".nii"
    NIFTI_GZ = ".nii.gz"
    NRRD = ".nrrd"
    NHDR = ".nhdr"
    MHA = ".mha"
    MHD = ".mhd"
    VTI = ".vti"

    @classmethod
    def from_path(cls, path: str | os.PathLike[str]) -> VolumeFormat:
        """The format named by a path's suffix."""
        name = os.fspath(path).lower()
        for fmt in sorted(cls, key=lambda f: -len(f.value)):
            if name.endswith(fmt.value):
                return fmt
        raise VtkDicomError(f"unknown volume format for {path}; use one of {', '.join(f.value for f in cls)}")


def _positive(vol: Volume) -> Volume:
    """Same volume with det(direction) > 0 (the i axis reversed if needed)."""
    if np.linalg.det(vol.direction) > 0:
        return vol
    last = vol.index_to_patient((vol.dimensions[0] - 1, 0, 0))
    direction = vol.direction.copy()
    direction[:, 0] *= -1
    return vol.with_array(vol.array[:, :, ::-1].copy(), origin=tuple(last), direction=direction)


def _from_affine(array_kji: np.ndarray, affine_lps: np.ndarray) -> Volume:
    m = np.asarray(affine_lps, float)[:3, :3]
    spacing = np.linalg.norm(m, axis=0)
    direction = m / spacing
    return _positive(Volume(array_kji, spacing=tuple(spacing), origin=tuple(np.asarray(affine_lps)[:3, 3]), direction=direction))


# ----------------------------------------------------------------------------- NIfTI
def _write_nifti(vol: Volume, tmp: str) -> None:
    import nibabel as nib

    affine = lps_to_ras_affine(vol.affine)
    img = nib.Nifti1Image(np.ascontiguousarray(vol.array.transpose(2, 1, 0)), affine)
    img.set_qform(affine, code=1)
    img.set_sform(affine, code=1)
    img.header.set_xyzt_units("mm")
    nib.save(img, tmp)


def _read_nifti(path: str) -> Volume:
    import nibabel as nib

    img = nib.load(path)
    if not isinstance(img, nib.Nifti1Image):  # Nifti2Image is a Nifti1Image too
        raise VtkDicomError(f"{path}: not a NIfTI image ({type(img).__name__})")
    data = np.asanyarray(img.dataobj)
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise VtkDicomError(f"{path}: {data.ndim}D NIfTI; only 3D volumes are read here")
    affine = np.asarray(img.affine, dtype=np.float64)
    lps = ras_to_lps_affine(affine)
    return _from_affine(np.ascontiguousarray(data.transpose(2, 1, 0)), lps)


# ----------------------------------------------------------------------------- NRRD
def _write_nrrd(vol: Volume, tmp: str, *, detached: bool) -> None:
    import nrrd

    header: dict[str, Any] = {
        "space": "left-posterior-superior",
        "space directions": (vol.direction * np.asarray(vol.spacing)).T,  # one row per axis (i, j, k)
        "space origin": np.asarray(vol.origin, float),
        "kinds": ["domain", "domain", "domain"],
        "encoding": "raw" if detached else "gzip",
    }
    nrrd.write(tmp, np.ascontiguousarray(vol.array), header, index_order="C", detached_header=detached)


def _read_nrrd(path: str) -> Volume:
    import nrrd

    data, header = nrrd.read(path, index_order="C")
    if data.ndim != 3:
        raise VtkDicomError(f"{path}: {data.ndim}D NRRD; only 3D volumes are read here")
    rows = np.asarray(header.get("space directions", np.eye(3)), float)
    origin = np.asarray(header.get("space origin", np.zeros(3)), float)
    space = str(header.get("space", "left-posterior-superior")).lower()
    if space in ("right-anterior-superior", "ras"):
        rows = rows @ LPS_TO_RAS
        origin = LPS_TO_RAS @ origin
    elif space not in ("left-posterior-superior", "lps"):
        raise VtkDicomError(f"{path}: NRRD space {space!r} is not supported")
    affine = np.eye(4)
    affine[:3, :3] = rows.T
    affine[:3, 3] = origin
    return _from_affine(data, affine)


# ----------------------------------------------------------------------------- MetaImage
def _met_type(dtype: np.dtype) -> str:
    for name, t in _MET_TYPES.items():
        if np.dtype(t) == dtype:
            return name
    raise VtkDicomError(f"no MetaImage element type for {dtype}")


def _write_meta(vol: Volume, tmp: str, final: Path) -> None:
    arr = np.ascontiguousarray(vol.array)
    ni, nj, nk = vol.dimensions
    header = [
        "ObjectType = Image",
        "NDims = 3",
        "BinaryData = True",
        "BinaryDataByteOrderMSB = False",
        "CompressedData = False",
        "TransformMatrix = " + " ".join(f"{v:.10g}" for v in vol.direction.T.ravel()),  # axis vectors one after the other
        "Offset = " + " ".join(f"{v:.10g}" for v in vol.origin),
        "CenterOfRotation = 0 0 0",
        "AnatomicalOrientation = RAI",
        "ElementSpacing = " + " ".join(f"{v:.10g}" for v in vol.spacing),
        f"DimSize = {ni} {nj} {nk}",
        f"ElementType = {_met_type(arr.dtype.newbyteorder('=') if arr.dtype.byteorder == '>' else arr.dtype)}",
    ]
    if final.suffix.lower() == ".mhd":
        raw = final.with_suffix(".raw")
        with atomic_path(raw, suffix=".raw") as raw_tmp:
            arr.astype(arr.dtype.newbyteorder("<")).tofile(raw_tmp)
        header.append(f"ElementDataFile = {raw.name}")
        Path(tmp).write_text("\n".join(header) + "\n")
        return
    header.append("ElementDataFile = LOCAL")
    with open(tmp, "wb") as fh:
        fh.write(("\n".join(header) + "\n").encode("ascii"))
        fh.write(arr.astype(arr.dtype.newbyteorder("<")).tobytes())


def _read_meta(path: str) -> Volume:
    fields: dict[str, str] = {}
    with open(path, "rb") as fh:
        while True:
            line = fh.readline()
            if not line:
                raise VtkDicomError(f"{path}: MetaImage header without ElementDataFile")
            key, _, value = line.decode("latin_1").partition("=")
            fields[key.strip()] = value.strip()
            if key.strip() == "ElementDataFile":
                offset = fh.tell()
                break
    if fields.get("CompressedData", "False").lower() == "true":
        raise VtkDicomError(f"{path}: compressed MetaImage is not supported; save it uncompressed")
    dims = [int(v) for v in fields["DimSize"].split()]
    if len(dims) != 3:
        raise VtkDicomError(f"{path}: {len(dims)}D MetaImage; only 3D volumes are read here")
    dtype = np.dtype(_MET_TYPES[fields["ElementType"]]).newbyteorder(">" if fields.get("BinaryDataByteOrderMSB", "False").lower() == "true" else "<")
    count = int(np.prod(dims))
    if fields["ElementDataFile"] == "LOCAL":
        data = np.fromfile(path, dtype=dtype, count=count, offset=offset)
    else:
        data = np.fromfile(Path(path).parent / fields["ElementDataFile"], dtype=dtype, count=count)
    if data.size != count:
        raise VtkDicomError(f"{path}: {data.size} values for DimSize {dims}")
    array = data.astype(dtype.newbyteorder("=")).reshape(dims[::-1])
    spacing = [float(v) for v in fields.get("ElementSpacing", "1 1 1").split()]
    origin = [float(v) for v in fields.get("Offset", fields.get("Position", "0 0 0")).split()]
    matrix = np.array([float(v) for v in fields.get("TransformMatrix", "1 0 0 0 1 0 0 0 1").split()]).reshape(3, 3).T
    affine = np.eye(4)
    affine[:3, :3] = matrix * np.asarray(spacing)
    affine[:3, 3] = origin
    return _from_affine(array, affine)


# ----------------------------------------------------------------------------- VTI
def _write_vti(vol: Volume, tmp: str) -> None:
    from vtkmodules.vtkIOXML import vtkXMLImageDataWriter

    writer = vtkXMLImageDataWriter()
    writer.SetInputData(vol.to_vtk())
    writer.SetFileName(tmp)
    writer.SetDataModeToBinary()
    writer.SetCompressorTypeToZLib()
    if not writer.Write():
        raise VtkDicomError(f"writing {tmp} failed")


def _read_vti(path: str) -> Volume:
    from vtkmodules.vtkIOXML import vtkXMLImageDataReader

    from vtkdicom_app.pipeline import run_update

    reader = vtkXMLImageDataReader()
    reader.SetFileName(path)
    image = run_update(reader, f"reading {path}")
    from vtkmodules.util.numpy_support import vtk_to_numpy

    ni, nj, nk = image.GetDimensions()
    array = vtk_to_numpy(image.GetPointData().GetScalars()).reshape(nk, nj, ni).copy()
    m = image.GetDirectionMatrix()
    direction = np.array([[m.GetElement(r, c) for c in range(3)] for r in range(3)])
    return Volume(array, spacing=image.GetSpacing(), origin=image.GetOrigin(), direction=direction)


# ----------------------------------------------------------------------------- public
def write_volume(vol: Volume, path: str | os.PathLike[str]) -> Path:
    """Write a volume as NIfTI, NRRD, MetaImage or VTI (by suffix), atomically.

    Returns
    -------
    Path
        The file written (for ``.mhd``, the header; the data goes to ``.raw`` beside it).
    """
    fmt = VolumeFormat.from_path(path)
    target = Path(path)
    with atomic_path(target, suffix=fmt.value) as tmp:
        if fmt in (VolumeFormat.NIFTI, VolumeFormat.NIFTI_GZ):
            _write_nifti(vol, tmp)
        elif fmt in (VolumeFormat.NRRD, VolumeFormat.NHDR):
            _write_nrrd(vol, tmp, detached=False)
        elif fmt in (VolumeFormat.MHA, VolumeFormat.MHD):
            _write_meta(vol, tmp, target)
        else:
            _write_vti(vol, tmp)
    return target


def read_volume(path: str | os.PathLike[str]) -> Volume:
    """Read a NIfTI, NRRD, MetaImage or VTI volume into LPS geometry (det > 0)."""
    fmt = VolumeFormat.from_path(path)
    p = os.fspath(path)
    if not os.path.exists(p):
        raise FileNotFoundError(f"no such file: {p}")
    try:
        if fmt in (VolumeFormat.NIFTI, VolumeFormat.NIFTI_GZ):
            return _read_nifti(p)
        if fmt in (VolumeFormat.NRRD, VolumeFormat.NHDR):
            return _read_nrrd(p)
        if fmt in (VolumeFormat.MHA, VolumeFormat.MHD):
            return _read_meta(p)
        return _read_vti(p)
    except (VtkDicomError, FileNotFoundError):
        raise
    except Exception as exc:
        raise VtkDicomError(f"{p}: cannot read {fmt.name} ({type(exc).__name__}: {exc})") from exc


def write_sequence_nifti(seq: VolumeSequence, path: str | os.PathLike[str]) -> Path:
    """Write a 4D NIfTI: data ``(i, j, k, t)``, the frames' shared affine (RAS), frame order kept.

    The fourth pixdim is the mean step of the frame values (ms for time and echo). A
    diffusion sequence also gets ``.bval`` and ``.bvec`` files beside it (FSL's convention,
    see :func:`write_bval_bvec`).
    """
    import nibabel as nib

    fmt = VolumeFormat.from_path(path)
    if fmt not in (VolumeFormat.NIFTI, VolumeFormat.NIFTI_GZ):
        raise VtkDicomError(f"4D sequences are written as NIfTI (.nii or .nii.gz), not {fmt.value}")
    first = seq[0]
    affine = lps_to_ras_affine(first.affine)
    data = np.stack([seq[n].array.transpose(2, 1, 0) for n in range(len(seq))], axis=-1)
    img = nib.Nifti1Image(np.ascontiguousarray(data), affine)
    img.set_qform(affine, code=1)
    img.set_sform(affine, code=1)
    step = float(np.mean(np.diff(seq.values))) if len(seq) > 1 else 1.0
    zooms = tuple(first.spacing) + (step if step > 0 else 1.0,)
    img.header.set_zooms(zooms)
    img.header.set_xyzt_units("mm", "msec" if seq.unit == "ms" else "unknown")
    target = Path(path)
    with atomic_path(target, suffix=fmt.value) as tmp:
        nib.save(img, tmp)
    if seq.bvalues is not None and seq.gradients is not None:
        write_bval_bvec(seq, target, affine=affine)
    return target


def fsl_bvecs(seq: VolumeSequence, affine_ras: np.ndarray) -> np.ndarray:
    """Gradient directions as FSL reads them beside a NIfTI with this affine: ``(3, t)``.

    FSL's ``.bvec`` holds directions in the image's voxel frame (the NIfTI's i, j, k axes),
    with the i component negated when the affine's determinant is positive (FSL works in a
    radiological voxel order): the convention of dcm2niix and the usual converters.

    Parameters
    ----------
    seq : VolumeSequence
        A diffusion sequence (``seq.gradients`` in LPS).
    affine_ras : numpy.ndarray
        The 4x4 affine of the NIfTI the bvecs go with.

    Returns
    -------
    numpy.ndarray
        Shape ``(3, t)``; zero columns for b = 0.
    """
    voxel = seq.bvecs_voxel()  # (t, 3) in the volume's (i, j, k) frame
    if np.linalg.det(np.asarray(affine_ras)[:3, :3]) > 0:
        voxel[:, 0] = -voxel[:, 0]
    return voxel.T + 0.0


def write_bval_bvec(seq: VolumeSequence, nifti_path: str | os.PathLike[str], *, affine: np.ndarray | None = None) -> tuple[Path, Path]:
    """Write ``NAME.bval`` and ``NAME.bvec`` beside ``NAME.nii[.gz]`` for a diffusion sequence.

    Parameters
    ----------
    seq : VolumeSequence
        Diffusion volumes in the order of the NIfTI's fourth axis.
    nifti_path : path
        The NIfTI they go with; the files share its name without ``.nii``/``.nii.gz``.
    affine : numpy.ndarray, optional
        The NIfTI's RAS affine (default: the one :func:`write_sequence_nifti` writes).

    Returns
    -------
    tuple of Path
        The ``.bval`` and ``.bvec`` files (written atomically).

    Raises
    ------
    VtkDicomError
        The sequence has no b-values.
    """
    if seq.bvalues is None or seq.gradients is None:
        raise VtkDicomError(f"a {seq.axis} sequence has no b-values: .bval/.bvec are for diffusion series")
    base = str(nifti_path)
    for ext in (".nii.gz", ".nii"):
        if base.endswith(ext):
            base = base[: -len(ext)]
            break
    if affine is None:
        first = seq[0]
        affine = lps_to_ras_affine(first.affine)
        affine[:3, 3] = 0.0  # only the rotation matters to the gradient directions
    bvecs = fsl_bvecs(seq, affine)
    unknown = [n for n, (b, g) in enumerate(zip(seq.bvalues, seq.gradients)) if b > 0 and g is None]
    if unknown:
        import warnings

        from vtkdicom_app.errors import VtkDicomWarning

        warnings.warn(
            f"volume(s) {', '.join(map(str, unknown[:10]))} have b > 0 but no gradient direction in their headers "
            "(a trace/ADC image, or a vendor tag this loader does not read): their .bvec columns are 0 0 0",
            VtkDicomWarning,
            stacklevel=2,
        )
    bval_path, bvec_path = Path(base + ".bval"), Path(base + ".bvec")
    with atomic_path(bval_path, suffix=".bval") as tmp:
        Path(tmp).write_text(" ".join(f"{b:g}" for b in seq.bvalues) + "\n", encoding="ascii")
    with atomic_path(bvec_path, suffix=".bvec") as tmp:
        Path(tmp).write_text("\n".join(" ".join(f"{v:.6f}" for v in row) for row in bvecs) + "\n", encoding="ascii")
    return bval_path, bvec_path


def read_sequence_nifti(path: str | os.PathLike[str]) -> VolumeSequence:
    """Read a 4D NIfTI as a VolumeSequence (values = frame index x the fourth pixdim)."""
    import nibabel as nib

    img = nib.load(os.fspath(path))
    if not isinstance(img, nib.Nifti1Image):  # Nifti2Image is a Nifti1Image too
        raise VtkDicomError(f"{path}: not a NIfTI image ({type(img).__name__})")
    data = np.asanyarray(img.dataobj)
    if data.ndim != 4:
        raise VtkDicomError(f"{path}: {data.ndim}D NIfTI; a sequence needs 4D")
    affine = np.asarray(img.affine, dtype=np.float64)
    lps = ras_to_lps_affine(affine)
    step = float(img.header.get_zooms()[3]) if len(img.header.get_zooms()) > 3 else 1.0
    frames = [_from_affine(np.ascontiguousarray(data[..., t].transpose(2, 1, 0)), lps) for t in range(data.shape[3])]
    return VolumeSequence([(lambda f=f: f) for f in frames], [t * step for t in range(len(frames))], "time")
