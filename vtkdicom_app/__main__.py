"""``python -m vtkdicom_app``: the same as the ``vtkdicom-app`` command."""
import sys

from vtkdicom_app.cli import main

sys.exit(main())
