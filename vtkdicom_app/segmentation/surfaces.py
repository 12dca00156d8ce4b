"""Closed, smooth surfaces of segments, and their export for printing and the web.

Pipeline of :func:`mask_surface` (on the segment's bounding box, padded)::

    bool mask --> vtkSurfaceNets3D (16 iterations of its constrained smoothing)
      --> points mapped from index space to LPS mm --> outward winding
      --> one uniform move along the normals that gives back the mask's voxel volume

Surface nets put one vertex per boundary voxel corner cell and smooth it within its cell:
no staircase (on a 20 mm sphere with 0.8 x 0.8 x 1 mm voxels the face normals are 1.5
degrees from the true ones on average, radial RMS error 0.04 mm), one-voxel-thin parts
survive, closed 2-manifold output. It was also the fastest: 0.5 s for all the bone of the
512x512x300 benchmark CT (865 k triangles), where a Gaussian blur, flying edges and 20
windowed-sinc iterations took 1.8 s (7.8 s with VTK's float Gaussian) for normals 4.4
degrees off. That pipeline stays as :attr:`SurfaceMethod.FLYING_EDGES` (with an exact
integer binomial blur). The padding keeps every surface closed; the last move cancels the
few tenths of a percent smoothing takes off convex shapes.

Exports: each segment to STL/OBJ/PLY/VTP (through :func:`vtkdicom_app.mesh_io.export_mesh`),
all segments to one 3MF (written with lib3mf, the 3MF Consortium's library: one named
object per segment, its colour as a base material: a multi-material print) or one GLB
(glTF binary, through trimesh: one named node and PBR material per segment, in metres
with glTF's axes, see :func:`write_glb`).
"""

from __future__ import annotations

import ctypes
import dataclasses
import enum
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from vtkdicom_app.atomic import atomic_path
from vtkdicom_app.bridge import arrays_to_mesh, mesh_to_arrays
from vtkdicom_app.mesh import clean_arrays, edge_topology, restore_volume, signed_volume
from vtkdicom_app.pipeline import run_update
from vtkdicom_app.segmentation.geometry import Box, Geometry, SegmentationError
from vtkdicom_app.segmentation.model import Segment, SegmentationModel

if TYPE_CHECKING:
    from vtkmodules.vtkCommonDataModel import vtkPolyData

__all__ = [
    "SurfaceOptions",
    "SurfaceMethod",
    "EmptySegmentError",
    "mask_surface",
    "segment_surface",
    "segment_surfaces",
    "export_segments",
    "write_3mf",
    "write_glb",
    "MULTI_FORMATS",
    "SINGLE_FORMATS",
]

#: Formats that hold every segment in one file.
MULTI_FORMATS = (".3mf", ".glb")
#: Formats written one file per segment.
SINGLE_FORMATS = (".stl", ".obj", ".ply", ".vtp")


class EmptySegmentError(SegmentationError):
    """A segment to export holds no voxel."""


class SurfaceMethod(enum.Enum):
    """How a mask becomes a surface."""

    SURFACE_NETS = "surface_nets"  # vtkSurfaceNets3D with its constrained smoothing (default)
    FLYING_EDGES = "flying_edges"  # binomial blur, flying edges, windowed-sinc smoothing


@dataclasses.dataclass(frozen=True)
class SurfaceOptions:
    """How a segment becomes a surface.

    Attributes
    ----------
    method : SurfaceMethod
    iterations : int
        Smoothing iterations: surface nets' constrained smoothing (default 16; each vertex
        stays within its voxel, so one-voxel-thin parts survive), or windowed sinc for
        flying edges (0: none).
    sigma_voxels : float
        Flying edges only: blur of the mask, in voxels along each axis: 0 (none; the
        staircase shows), ~0.7 (one binomial pass) or 1 (two passes).
    pass_band : float
        Flying edges only: windowed-sinc pass band (smaller smooths more).
    keep_volume : bool
        Move the surface along its normals so that it encloses the mask's voxel volume.
    reduce : float
        Fraction of triangles removed by decimation (0..0.99).
    """

    method: SurfaceMethod = SurfaceMethod.SURFACE_NETS
    iterations: int = 16
    sigma_voxels: float = 0.7
    pass_band: float = 0.1
    keep_volume: bool = True
    reduce: float = 0.0


DEFAULT_SURFACE = SurfaceOptions()


def _binomial(field: np.ndarray, passes: int) -> np.ndarray:
    """``passes`` [1, 2, 1] filters along each axis, in integers (a Gaussian of sigma^2 = passes/2 voxels).

    On a 0/1 mask the result is exact in uint8 (one pass: 0..64) or uint16 (two: 0..4096);
    it is ~10x faster than a float Gaussian of the same sigma (VTK's: 4.3 s on a 35 M voxel box).
    The field must have ``passes`` voxels of zero padding on every side.
    """
    out = field
    for axis in range(3):
        for _ in range(passes):
            src = out.copy()
            lo: list[Any] = [slice(None)] * 3
            mid: list[Any] = [slice(None)] * 3
            hi: list[Any] = [slice(None)] * 3
            lo[axis], mid[axis], hi[axis] = slice(0, -2), slice(1, -1), slice(2, None)
            t = out[tuple(mid)]
            np.add(src[tuple(lo)], src[tuple(hi)], out=t)
            t += src[tuple(mid)]
            t += src[tuple(mid)]
    return out


def _orient_outward(points: np.ndarray, faces: np.ndarray) -> np.ndarray:
    return faces if signed_volume(points, faces) >= 0 else faces[:, ::-1].copy()


def mask_surface(mask: np.ndarray, geometry: Geometry, *, options: SurfaceOptions = DEFAULT_SURFACE, name: str = "segment") -> vtkPolyData:
    """The closed surface of a bool mask on a grid, smooth, in LPS mm.

    Parameters
    ----------
    mask : numpy.ndarray
        bool ``(k, j, i)`` of ``geometry.shape``.
    geometry : Geometry
    options : SurfaceOptions
    name : str
        For messages.

    Returns
    -------
    vtkPolyData
        Triangles, outward wound, watertight; field data ``coordinate_system`` = LPS and
        ``voxel_volume_mm3``.

    Raises
    ------
    EmptySegmentError
        The mask is empty.
    """
    from vtkmodules.util.numpy_support import numpy_to_vtk
    from vtkmodules.vtkCommonCore import vtkDoubleArray, vtkStringArray
    from vtkmodules.vtkCommonDataModel import vtkImageData

    box = Box.of_mask(mask)
    if box is None:
        raise EmptySegmentError(f"segment {name!r} is empty: there is no surface to make; paint or threshold it first, or leave it out")
    voxels = int(np.count_nonzero(mask[box.slices]))
    nets = options.method is SurfaceMethod.SURFACE_NETS
    passes = 0 if nets else int(round(2.0 * max(0.0, float(options.sigma_voxels)) ** 2))
    if passes > 2:
        raise SegmentationError(f"sigma_voxels {options.sigma_voxels:g} is too much blur for a segment; use at most 1")
    pad = passes + 2
    field = np.zeros(tuple(n + 2 * pad for n in box.shape), np.uint8 if passes <= 1 else np.uint16)
    field[pad:-pad, pad:-pad, pad:-pad] = mask[box.slices]
    if passes:
        field = _binomial(field, passes)
    # contoured in index space (origin 0, spacing 1): the points are mapped to LPS below, the
    # same way whatever a filter does with an image's direction matrix
    image = vtkImageData()
    image.SetDimensions(field.shape[2], field.shape[1], field.shape[0])
    image.GetPointData().SetScalars(numpy_to_vtk(field.reshape(-1), deep=False))
    if nets:
        from vtkmodules.vtkFiltersCore import vtkSurfaceNets3D

        sn = vtkSurfaceNets3D()
        sn.SetInputData(image)
        sn.SetLabel(0, 1)
        sn.SetBackgroundLabel(0)
        sn.SetOutputMeshTypeToTriangles()
        if options.iterations > 0:
            sn.SmoothingOn()
            sn.SetNumberOfIterations(int(options.iterations))
        else:
            sn.SmoothingOff()
        mesh = run_update(sn, "segment surface (surface nets)")
    else:
        from vtkmodules.vtkFiltersCore import vtkFlyingEdges3D, vtkWindowedSincPolyDataFilter

        fe = vtkFlyingEdges3D()
        fe.SetInputData(image)
        fe.SetValue(0, 0.5 if passes == 0 else 0.5 * 4 ** (3 * passes) - 0.5)  # half the full value, off the grid's integers
        fe.ComputeNormalsOff()
        fe.ComputeGradientsOff()
        fe.ComputeScalarsOff()
        mesh = run_update(fe, "segment surface (flying edges)")
        if mesh.GetNumberOfCells() and options.iterations > 0:
            sinc = vtkWindowedSincPolyDataFilter()
            sinc.SetInputData(mesh)
            sinc.SetNumberOfIterations(int(options.iterations))
            sinc.SetPassBand(float(options.pass_band))
            sinc.NormalizeCoordinatesOn()
            sinc.BoundarySmoothingOff()
            sinc.FeatureEdgeSmoothingOff()
            sinc.NonManifoldSmoothingOn()
            mesh = run_update(sinc, "windowed-sinc smoothing")
    if mesh.GetNumberOfCells() == 0:
        raise EmptySegmentError(f"segment {name!r} ({voxels} voxels) is too thin for a surface at this smoothing; use less smoothing or grow it")
    ijk, faces = mesh_to_arrays(mesh)
    corner = np.array([box.lo[2] - pad, box.lo[1] - pad, box.lo[0] - pad], float)
    points = geometry.index_to_patient(ijk + corner)
    mesh = arrays_to_mesh(points, faces)
    points, faces = mesh_to_arrays(mesh)
    faces = _orient_outward(points, faces)
    target = voxels * geometry.voxel_volume_mm3
    if options.keep_volume and abs(signed_volume(points, faces) - target) > 1e-3 * target:
        points = restore_volume(points, faces, target, max_offset=0.5 * min(geometry.spacing))
    mesh = arrays_to_mesh(points, faces)
    if options.reduce > 0:
        from vtkdicom_app.surface import decimate

        mesh = decimate(mesh, float(options.reduce))
    cs = vtkStringArray()
    cs.SetName("coordinate_system")
    cs.InsertNextValue("LPS")
    mesh.GetFieldData().AddArray(cs)
    vv = vtkDoubleArray()
    vv.SetName("voxel_volume_mm3")
    vv.InsertNextValue(float(target))
    mesh.GetFieldData().AddArray(vv)
    return mesh


def segment_surface(model: SegmentationModel, segment_id: str, *, options: SurfaceOptions = DEFAULT_SURFACE) -> vtkPolyData:
    """The surface of one segment (see :func:`mask_surface`)."""
    seg = model.segment(segment_id)
    return mask_surface(model.mask(seg.segment_id), model.geometry, options=options, name=seg.name)


def segment_surfaces(
    model: SegmentationModel, segment_ids: Sequence[str] | None = None, *, options: SurfaceOptions = DEFAULT_SURFACE
) -> list[tuple[Segment, vtkPolyData]]:
    """``(Segment, vtkPolyData)`` for each segment (all, in order, by default).

    Raises
    ------
    EmptySegmentError
        One of them is empty (named in the message): nothing is returned.
    """
    segs = [model.segment(s) for s in (segment_ids if segment_ids is not None else model.segment_ids)]
    if not segs:
        raise EmptySegmentError("the segmentation has no segment: nothing to export")
    for seg in segs:
        if model.bounding_box(seg.segment_id) is None:
            raise EmptySegmentError(f"segment {seg.name!r} is empty: nothing to export; paint or threshold it first, or leave it out")
    return [(seg, segment_surface(model, seg.segment_id, options=options)) for seg in segs]


# ----------------------------------------------------------------------------- writers
def _safe_name(name: str) -> str:
    text = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")
    return text or "segment"


def _rgb8(color: Sequence[float]) -> tuple[int, int, int]:
    r, g, b = (int(round(255 * min(1.0, max(0.0, float(c))))) for c in color)
    return r, g, b


def _cleaned(mesh: vtkPolyData) -> tuple[np.ndarray, np.ndarray]:
    points, faces = mesh_to_arrays(mesh)
    points, faces, _stats = clean_arrays(points, faces)
    return points, faces


def _set_geometry(wrapper: Any, mesh_object: Any, points: np.ndarray, faces: np.ndarray) -> None:
    """``MeshObject.SetGeometry`` from numpy arrays without a Python loop over the vertices.

    The binding's ``SetGeometry`` copies its arguments element by element in Python (3 s for
    860 k triangles); this passes the arrays' buffers straight to the same C entry point.
    """
    import lib3mf

    vertices = np.require(points, np.float32, ["C", "W"])  # from_buffer needs a writable buffer
    triangles = np.require(faces, np.uint32, ["C", "W"])
    vertex_buffer = (lib3mf.Position * len(vertices)).from_buffer(vertices)
    triangle_buffer = (lib3mf.Triangle * len(triangles)).from_buffer(triangles)
    set_geometry = getattr(getattr(wrapper, "lib", None), "lib3mf_meshobject_setgeometry", None)
    handle = getattr(mesh_object, "_handle", None)
    if set_geometry is None or handle is None:  # a binding without the C entry point: its slow copy
        mesh_object.SetGeometry(vertex_buffer, triangle_buffer)
        return
    code = set_geometry(handle, ctypes.c_uint64(len(vertices)), vertex_buffer, ctypes.c_uint64(len(triangles)), triangle_buffer)
    wrapper.checkError(mesh_object, code)


def write_3mf(path: str | os.PathLike[str], parts: Sequence[tuple[str, Sequence[float], vtkPolyData]]) -> Path:
    """One 3MF file with one named, coloured object per part (LPS mm, ``unit="millimeter"``).

    Written with lib3mf, the 3MF Consortium's library: a base material group holds one
    material per part (its name and ``displaycolor``), and each part is one mesh object of
    that name whose object-level property is its material, so slicers show every segment
    in its colour and can assign it a filament.

    Parameters
    ----------
    path : str or os.PathLike
        ``.3mf``; written atomically.
    parts : sequence of (name, (r, g, b) 0..1, vtkPolyData)

    Returns
    -------
    Path

    Raises
    ------
    SegmentationError
        lib3mf refused a mesh or could not write the file (nothing is left behind).
    """
    import lib3mf

    arrays = [(name, color, *_cleaned(mesh)) for name, color, mesh in parts]
    wrapper = lib3mf.get_wrapper()
    try:
        model = wrapper.CreateModel()
        model.SetUnit(lib3mf.ModelUnit.MilliMeter)
        model.SetLanguage("en-US")
        metadata = model.GetMetaDataGroup()
        metadata.AddMetaData("", "Application", "vtkdicom_app", "xs:string", False)
        metadata.AddMetaData("", "Description", "segments in patient coordinates (LPS, mm)", "xs:string", False)
        materials = model.AddBaseMaterialGroup()
        identity = wrapper.GetIdentityTransform()
        for name, color, points, faces in arrays:
            material = materials.AddMaterial(name, wrapper.RGBAToColor(*_rgb8(color), 255))
            mesh_object = model.AddMeshObject()
            mesh_object.SetName(name)
            mesh_object.SetType(lib3mf.ObjectType.Model)
            _set_geometry(wrapper, mesh_object, points, faces)
            mesh_object.SetObjectLevelProperty(materials.GetResourceID(), material)
            model.AddBuildItem(mesh_object, identity)
        writer = model.QueryWriter("3mf")
        with atomic_path(path, suffix=".3mf") as tmp:
            writer.WriteToFile(tmp)
    except lib3mf.ELib3MFException as exc:
        raise SegmentationError(f"writing {Path(path).name} failed: lib3mf: {exc}") from exc
    return Path(path)


#: LPS (mm) -> glTF (m): +X the patient's left, +Y superior (glTF's up), +Z anterior (glTF's
#: front); a rotation (det +1), so outward winding stays outward.
LPS_TO_GLTF = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]]) * 0.001


def write_glb(path: str | os.PathLike[str], parts: Sequence[tuple[str, Sequence[float], vtkPolyData]]) -> Path:
    """One GLB (binary glTF 2.0) with one named node and PBR material per part.

    glTF's conventions, not the print files': metres, +Y up. Points are mapped from LPS
    mm by :data:`LPS_TO_GLTF` (+X the patient's left, +Y superior, +Z anterior: the patient
    faces glTF's front), so a web or AR viewer shows the anatomy upright, life size.

    Parameters
    ----------
    path : str or os.PathLike
        ``.glb``; written atomically.
    parts : sequence of (name, (r, g, b) 0..1, vtkPolyData)

    Returns
    -------
    Path
    """
    import trimesh
    from trimesh.visual.material import PBRMaterial
    from trimesh.visual.texture import TextureVisuals

    scene = trimesh.Scene()
    used: set[str] = set()
    for name, color, mesh in parts:
        points, faces = _cleaned(mesh)
        material = PBRMaterial(name=name, baseColorFactor=[float(c) for c in color] + [1.0], metallicFactor=0.0, roughnessFactor=0.8)
        tm = trimesh.Trimesh(vertices=points @ LPS_TO_GLTF.T, faces=faces, process=False, visual=TextureVisuals(material=material))
        node = name
        n = 2
        while node in used:
            node = f"{name}_{n}"
            n += 1
        used.add(node)
        scene.add_geometry(tm, node_name=node, geom_name=node)
    data = scene.export(file_type="glb")
    with atomic_path(path, suffix=".glb") as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
    return Path(path)


def _one_per_segment(base: Path, names: Sequence[str]) -> list[Path]:
    if len(names) == 1:
        return [base]
    suffix = base.suffix
    stem = base.name[: -len(suffix)] if suffix else base.name
    out: list[Path] = []
    seen: set[str] = set()
    for name in names:
        safe = _safe_name(name)
        candidate = safe
        n = 2
        while candidate in seen:
            candidate = f"{safe}_{n}"
            n += 1
        seen.add(candidate)
        out.append(base.with_name(f"{stem}_{candidate}{suffix}"))
    return out


def export_segments(
    model: SegmentationModel,
    path: str | os.PathLike[str],
    *,
    segment_ids: Sequence[str] | None = None,
    options: SurfaceOptions = DEFAULT_SURFACE,
    coords: str = "lps",
    binary: bool = True,
    allow_open: bool = False,
) -> list[Path]:
    """Export segments as meshes: all in one ``.3mf``/``.glb``, or one ``.stl/.obj/.ply/.vtp`` each.

    One segment goes to ``path`` itself; several to ``STEM_<name>.<suffix>`` next to it.
    Every surface is made (and checked) before anything is written.

    Parameters
    ----------
    model : SegmentationModel
    path : str or os.PathLike
    segment_ids : sequence of str, optional
        IDs or names (default: every segment, hidden ones included).
    options : SurfaceOptions
    coords : {"lps", "ras"}
        Point convention of STL/OBJ/PLY/VTP (3MF is LPS, GLB glTF's).
    binary : bool
        Binary STL/PLY/VTP.
    allow_open : bool
        Write STL/OBJ/PLY/VTP even when a mesh is not watertight.

    Returns
    -------
    list of Path
        The files written.

    Raises
    ------
    EmptySegmentError
        A segment is empty (nothing is written).
    SegmentationError
        Unknown suffix.
    """
    target = Path(path)
    name = target.name.lower()
    suffix = next((s for s in MULTI_FORMATS + SINGLE_FORMATS if name.endswith(s)), None)
    if suffix is None:
        raise SegmentationError(f"cannot export meshes to {target.name}: use one of {', '.join(MULTI_FORMATS + SINGLE_FORMATS)}")
    meshes = segment_surfaces(model, segment_ids, options=options)
    if suffix in MULTI_FORMATS:
        for seg, mesh in meshes:
            if not edge_topology(_cleaned(mesh)[1]).watertight:
                raise SegmentationError(f"the surface of segment {seg.name!r} is not closed; it cannot be printed")
        parts = [(seg.name, seg.color, mesh) for seg, mesh in meshes]
        (write_3mf if suffix == ".3mf" else write_glb)(target, parts)
        return [target]
    from vtkdicom_app.mesh_io import export_mesh
    from vtkdicom_app.surface import CoordinateSystem, mesh_report

    system = CoordinateSystem(coords)
    files = _one_per_segment(target, [seg.name for seg, _ in meshes])
    if not allow_open:
        for seg, mesh in meshes:
            report = mesh_report(mesh, coordinate_system=system)
            if report.problems:
                raise SegmentationError(f"segment {seg.name!r} is not printable: {'; '.join(report.problems)}")
    for (_seg, mesh), file in zip(meshes, files):
        export_mesh(mesh, file, coords=system, binary=binary, allow_open=allow_open)
    return files
