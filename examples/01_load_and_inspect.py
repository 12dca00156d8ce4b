"""Load a DICOM folder and look at what came out: series, geometry, values.

Run: ``python examples/01_load_and_inspect.py [DICOM_FOLDER|-] [OUTDIR]``
"""

import json

from _common import study_and_outdir

import vtkdicom_app as vda

study, outdir = study_and_outdir()
for s in vda.scan(study):
    print(f"{s.uid}  {s.description!r}  {s.modality}  {s.shape}  warnings: {s.warnings}")

vol = vda.load(study)
print("array (k, j, i):", vol.array.shape, vol.array.dtype)
print("spacing (di, dj, dk) mm:", vol.spacing)
print("origin (LPS mm):", vol.origin)
print("direction (columns: rows, columns, normal):\n", vol.direction)
centre_ijk = [n // 2 for n in vol.dimensions]
print("value at the centre voxel:", vol.array[centre_ijk[2], centre_ijk[1], centre_ijk[0]], "at", vol.index_to_patient(centre_ijk), "mm")

summary = {"shape_kji": list(vol.array.shape), "spacing": vol.spacing, "origin": vol.origin, "min": float(vol.array.min()), "max": float(vol.array.max())}
(outdir / "summary.json").write_text(json.dumps(summary, indent=2))
print("wrote", outdir / "summary.json")
