"""A study into pyvista with its geometry intact: volume as ImageData, a surface, an off-screen plot.

pyvista's own readers give DICOM an identity direction; ``vol.to_pyvista()`` keeps spacing,
origin and the full direction matrix, so pyvista's filters and the library's meshes agree in
patient space (LPS mm). The plot is drawn off-screen (no display, no GPU needed) into a PNG.

Run: ``python examples/05_pyvista.py [DICOM_FOLDER|-] [OUTDIR]`` (needs the ``notebook`` extra:
``pip install vtkdicom_app[notebook]``)
"""

import pyvista as pv
from _common import study_and_outdir

import vtkdicom_app as vda
from vtkdicom_app.rendering import ensure_offscreen_backend

study, outdir = study_and_outdir()
vol = vda.load(study)
grid = vol.to_pyvista()  # ImageData: points in LPS mm
print(f"ImageData {grid.dimensions}, spacing {grid.spacing}, origin {tuple(round(v, 2) for v in grid.origin)}")
print("direction matrix:\n", grid.direction_matrix.round(4))

bone = vda.extract_surface(vol, preset="bone", min_island_mm3=100.0, reduce=0.5)  # vtkPolyData, LPS mm, closed
mesh = pv.wrap(bone)  # no copy, no conversion
report = vda.mesh_report(bone)
print(f"bone surface: {mesh.n_cells} triangles, volume {report.volume_mm3:.0f} mm3, watertight {report.watertight}")

# pyvista's own filters work in patient space too: its contour lies where the library's surface does
# (flying edges: pyvista's default contour method ignores the direction of an oblique series in VTK 9.7)
raw = grid.contour([report.threshold or 300.0], method="flying_edges")
print("bounds (LPS mm), library:", tuple(round(b) for b in mesh.bounds), " pyvista contour:", tuple(round(b) for b in raw.bounds))

ensure_offscreen_backend()  # EGL without a display (VTK would try X first and warn)
plotter = pv.Plotter(off_screen=True, window_size=(640, 640))
plotter.set_background("black")
plotter.add_mesh(mesh, color=(0.95, 0.92, 0.84), smooth_shading=True)
plotter.add_mesh(grid.outline(), color="yellow")
plotter.add_text("anterior view: the patient's left is on the right", font_size=10, color="white")
plotter.view_vector((0.0, -1.0, 0.0), viewup=(0.0, 0.0, 1.0))  # LPS: stand in front of the patient
plotter.screenshot(outdir / "surface.png")
plotter.close()
print("wrote", outdir / "surface.png")
