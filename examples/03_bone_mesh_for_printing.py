"""A bone surface for 3D printing: closed, outward, in millimetres, checked before writing.

Run: ``python examples/03_bone_mesh_for_printing.py [DICOM_FOLDER|-] [OUTDIR]``
"""

from _common import study_and_outdir

import vtkdicom_app as vda

study, outdir = study_and_outdir()
vol = vda.load(study)
mesh = vda.extract_surface(vol, preset="bone", largest=True, reduce=0.5)
report = vda.export_mesh(mesh, outdir / "bone.stl", coords="lps")  # refuses an open mesh
print(report.summary())
vda.export_mesh(mesh, outdir / "bone.3mf")  # 3MF says millimetres itself
print("wrote", outdir / "bone.stl", "and", outdir / "bone.3mf")
