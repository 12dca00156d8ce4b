"""``python -m vtkdicom_app.cli``: the same as the ``vtkdicom-app`` command."""

import sys

from vtkdicom_app.cli import main

if __name__ == "__main__":  # guarded: Dask's worker processes re-import the main module
    sys.exit(main())
