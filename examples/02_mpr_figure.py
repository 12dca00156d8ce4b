"""A matplotlib figure of the three planes through a point, with correct aspect for free.

Slices come out with square pixels in mm, patient's left on the image's right (radiological),
so ``imshow`` needs no aspect ratio and ``extent`` gives millimetres.

Run: ``python examples/02_mpr_figure.py [DICOM_FOLDER|-] [OUTDIR]``
"""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from _common import study_and_outdir

import vtkdicom_app as vda
from vtkdicom_app.mpr import MprCursor, Plane, apply_window

study, outdir = study_and_outdir()
vol = vda.load(study)
cursor = MprCursor(vol)  # crosshair at the centre, window from the header
fig, axes = plt.subplots(1, 3, figsize=(12, 4.5))
for ax, plane in zip(axes, (Plane.AXIAL, Plane.CORONAL, Plane.SAGITTAL)):
    s = cursor.slice(plane)
    width, height = s.extent_mm
    ax.imshow(apply_window(s.array, cursor.window, cursor.level), cmap="gray", extent=(0, width, height, 0))
    letters = s.orientation_letters()
    ax.set_title(f"{plane.value} at {s.position:.1f} mm")
    ax.set_xlabel(f"{letters['left']}  <-  mm  ->  {letters['right']}")
    ax.set_ylabel(f"{letters['bottom']}  <-  mm  ->  {letters['top']}")
fig.tight_layout()
out = outdir / "mpr.png"
fig.savefig(out, dpi=80)
print("wrote", out)
