"""Triangle-mesh checks and repairs on ``(points (N, 3), faces (M, 3))`` arrays.

What a slicer (and trimesh) sees in a written file is not the vertex numbering of the
in-memory mesh: an STL stores each triangle's corners as float32 coordinates, and a reader
merges corners by position. Everything here therefore works on the mesh *as written*:

* :func:`clean_arrays` rounds the points to float32, merges vertices at the same position,
  drops degenerate faces (a repeated corner or zero area), duplicate faces (one copy kept) and
  pairs of opposite faces on the same three corners (a two-sided fin), and unused vertices.
* :func:`edge_topology` judges the result with trimesh's own rules: watertight when every
  edge is shared by exactly two faces; winding consistent when each edge shared by two faces
  is traversed once in each direction.
* :func:`restore_volume` moves a closed surface along its vertex normals by the one distance
  that gives back an enclosed volume (quadric decimation cuts the corners of convex parts).
* :func:`repair_manifold` makes a closed 2-manifold again of a mesh that a decimator has
  damaged: the faces around every edge shared by more than two faces (or twice in the same
  direction) are removed and each hole this opens is closed by a fan of triangles wound like
  its neighbours. Holes that were there before are left alone.

* :func:`mesh_report` (and :func:`report_arrays` on arrays) says what a printer needs to know:
  watertight, manifold, winding, outward, volume, area, pieces (:func:`face_components`),
  the threshold band recorded by :func:`vtkdicom_app.surface.extract_surface` and the
  :class:`CoordinateSystem` of the points, in a :class:`MeshReport`.

No VTK import here: numpy only. :func:`mesh_report` and :func:`field_values` take a
vtkPolyData made elsewhere and read it through :mod:`vtkdicom_app.bridge`.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import TYPE_CHECKING, Any

import numpy as np

from vtkdicom_app.bridge import mesh_to_arrays

if TYPE_CHECKING:
    from vtkmodules.vtkCommonDataModel import vtkPolyData

__all__ = [
    "CleanStats",
    "EdgeTopology",
    "weld_vertices",
    "clean_arrays",
    "edge_topology",
    "repair_manifold",
    "restore_volume",
    "signed_volume",
    "CoordinateSystem",
    "MeshReport",
    "mesh_report",
    "report_arrays",
    "field_values",
    "face_components",
]


@dataclasses.dataclass(frozen=True)
class CleanStats:
    """What :func:`clean_arrays` changed.

    Attributes
    ----------
    merged_vertices : int
        Vertices that shared a position with another one.
    degenerate_faces : int
        Faces dropped for a repeated corner or zero area.
    duplicate_faces : int
        Faces dropped as copies of another face, or as one of two opposite faces on the same
        three corners.
    """

    merged_vertices: int = 0
    degenerate_faces: int = 0
    duplicate_faces: int = 0


@dataclasses.dataclass(frozen=True)
class EdgeTopology:
    """Edge counts of a triangle mesh, judged as trimesh judges them.

    Attributes
    ----------
    boundary_edges : int
        Edges used by one face (holes).
    nonmanifold_edges : int
        Edges used by more than two faces.
    misoriented_edges : int
        Edges used by two faces that traverse them in the same direction.
    """

    boundary_edges: int
    nonmanifold_edges: int
    misoriented_edges: int

    @property
    def watertight(self) -> bool:
        """Every edge is shared by exactly two faces (``trimesh.Trimesh.is_watertight``)."""
        return self.boundary_edges == 0 and self.nonmanifold_edges == 0

    @property
    def winding_consistent(self) -> bool:
        """Every edge shared by two faces is traversed in opposite directions
        (``trimesh.Trimesh.is_winding_consistent``: edges used once or more than twice are
        not considered)."""
        return self.misoriented_edges == 0


def signed_volume(points: np.ndarray, faces: np.ndarray) -> float:
    """Enclosed volume (positive when the faces wind counter-clockwise seen from outside).

    Parameters
    ----------
    points : numpy.ndarray
        ``(N, 3)``.
    faces : numpy.ndarray
        ``(M, 3)`` vertex indices.

    Returns
    -------
    float
    """
    if len(faces) == 0:
        return 0.0
    p = np.asarray(points)
    x, y, z = (np.ascontiguousarray(p[:, c]) for c in range(3))
    i0, i1, i2 = (np.ascontiguousarray(faces[:, c]) for c in range(3))
    bx, by, bz, cx, cy, cz = x[i1], y[i1], z[i1], x[i2], y[i2], z[i2]
    det = x[i0] * (by * cz - bz * cy)
    det += y[i0] * (bz * cx - bx * cz)
    det += z[i0] * (bx * cy - by * cx)
    return float(det.sum(dtype=np.float64) / 6.0)


def _group_rows(rows: np.ndarray) -> np.ndarray:
    """Inverse index of identical rows of an ``(N, 3)`` uint32 array (equal rows, equal ids).

    One sort on a 64-bit mix of the three columns; rows whose mixes collide are told apart by
    a full lexicographic sort (rare: only then is the slower path taken).
    """
    r = rows.astype(np.uint64)
    key = (r[:, 0] << np.uint64(32)) | r[:, 1]
    key ^= r[:, 2] * np.uint64(0x9E3779B97F4A7C15)
    order = np.argsort(key, kind="stable")
    sk = key[order]
    same_key = sk[1:] == sk[:-1]
    if same_key.any():
        srows = rows[order]
        same_row = np.all(srows[1:] == srows[:-1], axis=1)
        if np.any(same_key & ~same_row):  # a hash collision: sort properly
            order = np.lexsort((rows[:, 2], rows[:, 1], rows[:, 0]))
            srows = rows[order]
            same_row = np.all(srows[1:] == srows[:-1], axis=1)
        new_group = np.concatenate([[True], ~same_row])
    else:
        new_group = np.ones(len(rows), bool)
    ids = np.cumsum(new_group) - 1
    inverse = np.empty(len(rows), np.int64)
    inverse[order] = ids
    return inverse


def weld_vertices(points: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Round points to float32 (what an STL stores) and merge vertices at the same position.

    Parameters
    ----------
    points : numpy.ndarray
        ``(N, 3)``.
    faces : numpy.ndarray
        ``(M, 3)``.

    Returns
    -------
    points : numpy.ndarray
        ``(N', 3)`` float64 holding float32 values, one per distinct position.
    faces : numpy.ndarray
        ``(M, 3)`` int64, renumbered.
    merged : int
        ``N - N'``.
    """
    p32 = np.ascontiguousarray(points, dtype=np.float32)
    if len(p32) == 0:
        return p32.astype(np.float64).reshape(0, 3), np.asarray(faces, np.int64).reshape(-1, 3), 0
    p32 = p32 + np.float32(0.0)  # -0.0 -> +0.0: the same position, the same bits
    inverse = _group_rows(p32.view(np.uint32))
    n_new = int(inverse.max()) + 1
    first = np.full(n_new, len(p32), np.int64)
    np.minimum.at(first, inverse, np.arange(len(p32)))
    return p32[first].astype(np.float64), inverse[np.asarray(faces, np.int64)], len(p32) - n_new


def _face_areas2(points: np.ndarray, faces: np.ndarray) -> np.ndarray:
    a = points[faces[:, 0]]
    return np.linalg.norm(np.cross(points[faces[:, 1]] - a, points[faces[:, 2]] - a), axis=1)


def _drop_unused(points: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    used = np.zeros(len(points), bool)
    used[faces.reshape(-1)] = True
    if used.all():
        return points, faces
    remap = np.cumsum(used) - 1
    return points[used], remap[faces]


def clean_arrays(points: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray, CleanStats]:
    """The mesh as a file stores it and a slicer reads it back.

    Points rounded to float32 and merged by position; faces with a repeated corner or zero
    area dropped; of identical faces one kept; two opposite faces on the same corners (a fin
    of zero thickness) both dropped; unused points dropped.

    Parameters
    ----------
    points : numpy.ndarray
        ``(N, 3)``.
    faces : numpy.ndarray
        ``(M, 3)``.

    Returns
    -------
    points, faces : numpy.ndarray
    stats : CleanStats
    """
    points, faces, merged = weld_vertices(points, faces)
    faces, degenerate, duplicates = _filter_faces(points, faces)
    points, faces = _drop_unused(points, faces)
    return points, faces, CleanStats(merged, degenerate, duplicates)


def _filter_faces(points: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, int, int]:
    """Faces without degenerate ones, duplicates and fins (numbering of points unchanged)."""
    n0 = len(faces)
    ok = (faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2]) & (faces[:, 2] != faces[:, 0])
    faces = faces[ok]
    if len(faces):
        faces = faces[_face_areas2(points, faces) > 0.0]
    degenerate = n0 - len(faces)
    n1 = len(faces)
    if len(faces):
        # identical corner sets: the same winding (a rotation of the corners) or the opposite one
        srt = np.sort(faces, axis=1)
        group = _group_rows(srt.astype(np.uint32)) if len(points) < 2**32 else np.unique(srt, axis=0, return_inverse=True)[1].ravel()
        counts = np.bincount(group)
        if (counts > 1).any():
            # the winding of a face: +1 when its corners are an even permutation of the sorted ones
            rot = np.argmin(faces, axis=1)
            rolled = np.stack([faces[np.arange(len(faces)), (rot + s) % 3] for s in range(3)], axis=1)
            parity = np.where(rolled[:, 1] == srt[:, 1], 1, -1)
            net = np.bincount(group, weights=parity)
            keep = np.ones(len(faces), bool)
            dup = counts[group] > 1
            # per duplicated set: keep one face of the net winding, none if they cancel out
            order = np.flatnonzero(dup)
            seen: dict[int, int] = {}
            for f in order.tolist():
                g = int(group[f])
                want = int(np.sign(net[g]))
                if want == 0 or parity[f] != want or seen.get(g, 0) >= 1:
                    keep[f] = False
                    continue
                seen[g] = seen.get(g, 0) + 1
            faces = faces[keep]
    duplicates = n1 - len(faces)
    return faces, degenerate, duplicates


def _directed(faces: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Directed edges (a, b) in face-column blocks, their undirected keys, group ids and counts."""
    directed = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    n = np.int64(max(int(faces.max()) + 1, 1)) if len(faces) else np.int64(1)
    lo = np.minimum(directed[:, 0], directed[:, 1])
    hi = np.maximum(directed[:, 0], directed[:, 1])
    keys = lo * n + hi
    _uniq, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    return directed, keys, inverse.ravel(), counts


def edge_topology(faces: np.ndarray) -> EdgeTopology:
    """Boundary, non-manifold and misoriented edges, counted as trimesh counts them.

    Parameters
    ----------
    faces : numpy.ndarray
        ``(M, 3)`` indices of a mesh whose vertices are merged by position
        (:func:`clean_arrays`).

    Returns
    -------
    EdgeTopology
    """
    if len(faces) == 0:
        return EdgeTopology(0, 0, 0)
    directed, _keys, inverse, counts = _directed(faces)
    forward = (directed[:, 0] < directed[:, 1]).astype(np.int64)
    fsum = np.bincount(inverse, weights=forward, minlength=len(counts))
    misoriented = int(((counts == 2) & (fsum != 1)).sum())
    return EdgeTopology(int((counts == 1).sum()), int((counts > 2).sum()), misoriented)


def _boundary_loops(directed: np.ndarray) -> list[list[int]]:
    """Split directed boundary edges (a -> b) into simple cycles (no vertex twice in one)."""
    out: dict[int, list[int]] = {}
    for a, b in directed.tolist():
        out.setdefault(a, []).append(b)
    loops: list[list[int]] = []
    for start in list(out):
        while out.get(start):
            path = [start]
            where = {start: 0}
            cur = start
            while True:
                nxts = out.get(cur)
                if not nxts:  # unbalanced (should not happen on a consistently wound mesh)
                    path = []
                    break
                nxt = nxts.pop()
                if nxt in where:
                    cut = where[nxt]
                    cycle = path[cut:]
                    if len(cycle) >= 3:
                        loops.append(cycle)
                    for v in path[cut + 1 :]:
                        del where[v]
                    path = path[: cut + 1]
                    cur = nxt
                    if cut == 0 and not out.get(start):
                        break
                    continue
                where[nxt] = len(path)
                path.append(nxt)
                cur = nxt
    return loops


def _fill_loops(points: np.ndarray, faces: np.ndarray, loops: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Close each loop (traversed as its neighbouring faces traverse it) with a fan."""
    new_faces: list[np.ndarray] = []
    new_points: list[np.ndarray] = []
    n = len(points)
    for loop in loops:
        v = np.asarray(loop, np.int64)
        nxt = np.roll(v, -1)
        if len(v) == 3:
            new_faces.append(np.array([[v[0], v[2], v[1]]], np.int64))
            continue
        centre = points[v].mean(axis=0)
        c = n + len(new_points)
        new_points.append(centre)
        new_faces.append(np.stack([nxt, v, np.full(len(v), c)], axis=1))
    if not new_faces:
        return points, faces
    if new_points:
        points = np.concatenate([points, np.asarray(new_points)])
    return points, np.concatenate([faces, *new_faces])


def repair_manifold(points: np.ndarray, faces: np.ndarray, *, max_rounds: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """A closed, consistently wound 2-manifold again after decimation (as far as it was one).

    Rounds of: clean (:func:`clean_arrays`), remove every face on an edge shared by more
    than two faces or traversed twice in the same direction, close each hole that opened
    with a fan of triangles wound like its neighbours. Boundaries the input already had stay
    open. Zero-area faces with three distinct corners are removed by merging the two
    closest corners.

    Parameters
    ----------
    points : numpy.ndarray
        ``(N, 3)``.
    faces : numpy.ndarray
        ``(M, 3)``.
    max_rounds : int
        Stop after this many rounds even if problems remain (the report then says so).

    Returns
    -------
    points, faces : numpy.ndarray
        float64 points holding float32 values, int64 faces.
    """
    points, faces, _ = weld_vertices(points, np.asarray(faces, np.int64))
    if len(faces) == 0:
        return points, faces
    d0, _, inv0, counts0 = _directed(faces)
    original_boundary = {(int(a), int(b)) for a, b in d0[counts0[inv0] == 1].tolist()}
    for _round in range(max_rounds):
        points, faces = _collapse_slivers(points, faces)
        faces, _, _ = _filter_faces(points, faces)
        if len(faces) == 0:
            return points, faces
        directed, _keys, inverse, counts = _directed(faces)
        forward = (directed[:, 0] < directed[:, 1]).astype(np.int64)
        fsum = np.bincount(inverse, weights=forward, minlength=len(counts))
        bad_group = (counts > 2) | ((counts == 2) & (fsum != 1))
        bad_edge = bad_group[inverse]
        n_faces = len(faces)
        if bad_edge.any():
            drop = np.zeros(n_faces, bool)
            drop[np.flatnonzero(bad_edge) % n_faces] = True
            faces = faces[~drop]
            if len(faces) == 0:
                return points, faces
            directed, _keys, inverse, counts = _directed(faces)
        boundary = directed[counts[inverse] == 1]
        if len(boundary) and original_boundary:
            mine = np.array([(int(a), int(b)) not in original_boundary for a, b in boundary.tolist()], bool)
            boundary = boundary[mine]
        if not bad_edge.any() and len(boundary) == 0:
            break
        points, faces = _fill_loops(points, faces, _boundary_loops(boundary))
    return _drop_unused(points, faces)


def _collapse_slivers(points: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Merge the two closest corners of every zero-area face with three distinct corners."""
    distinct = (faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2]) & (faces[:, 2] != faces[:, 0])
    p32 = points.astype(np.float32).astype(np.float64)
    flat = distinct.copy()
    flat[distinct] = _face_areas2(p32, faces[distinct]) == 0.0
    if not flat.any():
        return points, faces
    f = faces[flat]
    pairs = np.stack([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]], axis=1)  # (m, 3, 2)
    lengths = np.linalg.norm(p32[pairs[:, :, 0]] - p32[pairs[:, :, 1]], axis=2)
    pick = pairs[np.arange(len(f)), np.argmin(lengths, axis=1)]
    remap = np.arange(len(points))
    lo, hi = pick.min(axis=1), pick.max(axis=1)
    remap[hi] = lo
    for _ in range(64):  # resolve chains a -> b -> c
        nxt = remap[remap]
        if np.array_equal(nxt, remap):
            break
        remap = nxt
    return points, remap[faces]


def _vertex_normals(points: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted vertex normals along the winding (unit length; zero where undefined)."""
    a = points[faces[:, 0]]
    fn = np.cross(points[faces[:, 1]] - a, points[faces[:, 2]] - a)  # twice the area, along the winding
    vn = np.zeros_like(points)
    for c in range(3):
        for col in range(3):
            vn[:, c] += np.bincount(faces[:, col], weights=fn[:, c], minlength=len(points))
    norm = np.linalg.norm(vn, axis=1)
    return np.divide(vn, norm[:, None], out=np.zeros_like(vn), where=norm[:, None] > 0)


def restore_volume(points: np.ndarray, faces: np.ndarray, target_volume: float, *, max_offset: float | None = None) -> np.ndarray:
    """Points moved along their normals by the one distance that restores an enclosed volume.

    The signed volume grows by the area times a move along the winding normals, whichever
    way the mesh is wound, so the move is ``(target - volume) / area`` (two Newton steps).

    Parameters
    ----------
    points : numpy.ndarray
        ``(N, 3)`` of a closed mesh.
    faces : numpy.ndarray
        ``(M, 3)``.
    target_volume : float
        Signed volume wanted.
    max_offset : float, optional
        Largest move allowed (default: a tenth of the median edge length); the volume is
        restored only as far as this allows.

    Returns
    -------
    numpy.ndarray
        The moved points (a new array).
    """
    if len(faces) == 0:
        return points
    if max_offset is None:
        e = np.linalg.norm(points[faces[:, 1]] - points[faces[:, 0]], axis=1)
        max_offset = 0.1 * float(np.median(e))
    out = np.array(points, np.float64)
    normals = _vertex_normals(out, faces)
    total = 0.0
    for _ in range(2):
        volume = signed_volume(out, faces)
        a = out[faces[:, 0]]
        area = float(np.linalg.norm(np.cross(out[faces[:, 1]] - a, out[faces[:, 2]] - a), axis=1).sum() / 2)
        if area <= 0:
            break
        step = (target_volume - volume) / area
        step = float(np.clip(total + step, -max_offset, max_offset)) - total
        if step == 0.0:
            break
        out += normals * step
        total += step
    return out


# ----------------------------------------------------------------------------- reports
class CoordinateSystem(enum.Enum):
    """Patient coordinate convention of mesh points (both in mm)."""

    LPS = "lps"  # DICOM, ITK, Slicer's files: +x left, +y posterior, +z superior
    RAS = "ras"  # NIfTI, Slicer's display: +x right, +y anterior, +z superior


@dataclasses.dataclass
class MeshReport:
    """What a printer (and a user) needs to know about a mesh.

    Attributes
    ----------
    triangles, vertices : int
    watertight : bool
        Every edge is shared by exactly two triangles.
    manifold : bool
        No edge shared by more than two triangles.
    consistent_winding : bool
        Every shared edge is traversed in opposite directions by its two triangles.
    outward : bool
        Signed volume positive (normals point out).
    volume_mm3, area_mm2 : float
    bounds : tuple of float
        (xmin, xmax, ymin, ymax, zmin, zmax) in mm.
    components : int
        Connected pieces.
    coordinate_system : str
        "LPS" or "RAS".
    problems : list of str
        Why it is not printable, in words.
    threshold, upper : float or None
        The band the surface was extracted at: ``threshold`` is its lower limit, ``upper``
        its upper limit (None: everything above ``threshold``).
    """

    triangles: int
    vertices: int
    watertight: bool
    manifold: bool
    consistent_winding: bool
    outward: bool
    volume_mm3: float
    area_mm2: float
    bounds: tuple[float, float, float, float, float, float]
    components: int
    coordinate_system: str
    problems: list[str]
    threshold: float | None = None
    upper: float | None = None

    @property
    def printable(self) -> bool:
        """Watertight, manifold, consistently and outward wound, not empty
        (trimesh's ``is_volume`` on the written file)."""
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary."""
        d = dataclasses.asdict(self)
        d["printable"] = self.printable
        return d

    def summary(self) -> str:
        """A few human-readable lines."""
        b = self.bounds
        lines = [
            f"{self.triangles} triangles, {self.vertices} vertices, {self.components} component(s), {self.coordinate_system} mm",
            f"volume {self.volume_mm3:.1f} mm3, area {self.area_mm2:.1f} mm2",
            f"bounds x {b[0]:.1f}..{b[1]:.1f}  y {b[2]:.1f}..{b[3]:.1f}  z {b[4]:.1f}..{b[5]:.1f} mm",
            f"watertight {self.watertight}, manifold {self.manifold}, consistent winding {self.consistent_winding}, outward {self.outward}",
        ]
        if self.threshold is not None and self.upper is not None:
            lines.append(f"threshold band {self.threshold:g}..{self.upper:g}")
        elif self.threshold is not None:
            lines.append(f"threshold {self.threshold:g} and above")
        lines += [f"problem: {p}" for p in self.problems]
        return "\n".join(lines)


def face_components(n_points: int, faces: np.ndarray) -> np.ndarray:
    """Component label per face (union-find over shared vertices, vectorised passes).

    Parameters
    ----------
    n_points : int
        Number of vertices (every index in ``faces`` is below it).
    faces : numpy.ndarray
        ``(M, 3)`` vertex indices.

    Returns
    -------
    numpy.ndarray
        ``(M,)``: for each face, the smallest vertex index of its component (equal labels:
        same piece).
    """
    parent = np.arange(n_points)
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]]])
    while True:
        a = parent[edges[:, 0]]
        b = parent[edges[:, 1]]
        low = np.minimum(a, b)
        changed = False
        for side in (a, b):
            mask = parent[side] > low
            if mask.any():
                np.minimum.at(parent, side[mask], low[mask])
                changed = True
        parent = parent[parent]
        if not changed:
            break
    while True:
        nxt = parent[parent]
        if np.array_equal(nxt, parent):
            break
        parent = nxt
    return parent[faces[:, 0]]


def mesh_report(mesh: vtkPolyData, *, coordinate_system: CoordinateSystem | str = CoordinateSystem.LPS) -> MeshReport:
    """Check a triangle mesh for printing, as it will be written and read back.

    The mesh is judged after :func:`vtkdicom_app.mesh.clean_arrays`: points rounded to
    float32 (an STL's precision) and merged by position, as every slicer and trimesh merge
    them; degenerate (zero-area) and duplicate faces dropped, as :func:`export_mesh
    <vtkdicom_app.mesh_io.export_mesh>` drops them before writing. Watertightness and winding
    follow trimesh's rules, so the report agrees with ``trimesh.load(path).is_watertight``,
    ``.is_winding_consistent`` and ``.is_volume`` (= :attr:`MeshReport.printable`).

    Parameters
    ----------
    mesh : vtkPolyData
        Triangles.
    coordinate_system : CoordinateSystem or str
        Recorded in the report.

    Returns
    -------
    MeshReport
    """
    points, faces = mesh_to_arrays(mesh)
    return report_arrays(points, faces, coordinate_system=coordinate_system, field=field_values(mesh))


def field_values(mesh: vtkPolyData) -> dict[str, float]:
    """The numeric field data that extract_surface records (``threshold``, ``upper``).

    Parameters
    ----------
    mesh : vtkPolyData

    Returns
    -------
    dict of str to float
        The names present, each with its first value.
    """
    out: dict[str, float] = {}
    fd = mesh.GetFieldData()
    if fd is None:
        return out
    for name in ("threshold", "upper"):
        arr = fd.GetArray(name)
        if arr is not None and arr.GetNumberOfTuples() > 0:
            out[name] = float(arr.GetValue(0))
    return out


def report_arrays(
    points: np.ndarray,
    faces: np.ndarray,
    *,
    coordinate_system: CoordinateSystem | str = CoordinateSystem.LPS,
    field: dict[str, float] | None = None,
    cleaned: bool = False,
) -> MeshReport:
    """:func:`mesh_report` on arrays.

    Parameters
    ----------
    points, faces : numpy.ndarray
        ``(N, 3)`` positions (mm) and ``(M, 3)`` vertex indices.
    coordinate_system : CoordinateSystem or str
        Recorded in the report.
    field : dict of str to float, optional
        ``threshold`` and ``upper`` to record (:func:`field_values`).
    cleaned : bool
        The arrays already went through :func:`clean_arrays` (as :func:`export_mesh
        <vtkdicom_app.mesh_io.export_mesh>` writes them); otherwise they are cleaned here.

    Returns
    -------
    MeshReport
    """
    system = CoordinateSystem(coordinate_system) if not isinstance(coordinate_system, CoordinateSystem) else coordinate_system
    field = field or {}
    threshold, upper = field.get("threshold"), field.get("upper")
    if not cleaned:
        points, faces, _stats = clean_arrays(points, faces)
    problems: list[str] = []
    if len(faces) == 0:
        return MeshReport(0, len(points), False, False, False, False, 0.0, 0.0, (0.0,) * 6, 0, system.name, ["the mesh is empty"], threshold, upper)
    topo = edge_topology(faces)
    boundary, nonmanifold = topo.boundary_edges, topo.nonmanifold_edges
    watertight = topo.watertight
    manifold = nonmanifold == 0
    consistent = topo.winding_consistent
    volume = signed_volume(points, faces)
    area = float(np.linalg.norm(np.cross(points[faces[:, 1]] - points[faces[:, 0]], points[faces[:, 2]] - points[faces[:, 0]]), axis=1).sum() / 2)
    outward = volume > 0
    labels = face_components(len(points), faces)
    n_components = int(len(np.unique(labels)))
    if boundary:
        problems.append(f"not watertight: {boundary} boundary edge(s) (holes); fill holes or extract with a closed volume")
    if nonmanifold:
        problems.append(f"not manifold: {nonmanifold} edge(s) shared by more than two triangles")
    if not consistent:
        problems.append(f"inconsistent winding: {topo.misoriented_edges} edge(s) traversed twice in the same direction")
    if watertight and consistent and not outward:
        problems.append("normals point inwards (negative volume)")
    lo, hi = points.min(axis=0), points.max(axis=0)
    return MeshReport(
        triangles=int(len(faces)),
        vertices=int(len(points)),
        watertight=watertight,
        manifold=manifold,
        consistent_winding=consistent,
        outward=outward,
        volume_mm3=abs(volume),
        area_mm2=area,
        bounds=(float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1]), float(lo[2]), float(hi[2])),
        components=n_components,
        coordinate_system=system.name,
        problems=problems,
        threshold=threshold,
        upper=upper,
    )
