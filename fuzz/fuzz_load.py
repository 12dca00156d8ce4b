"""Coverage-guided fuzzing of scan/load with atheris (long local runs; CI runs the bounded
hypothesis test in tests/test_fuzz_loader.py instead).

Run::

    pip install atheris
    python fuzz/fuzz_load.py -max_total_time=600 fuzz/corpus

Each input is written as one file in a fresh folder and loaded; anything but a
``VtkDicomError`` (or success) is a bug and makes atheris stop with the input saved.
The seed corpus (fuzz/corpus, created on first run) holds small phantom files of several
encodings.
"""

from __future__ import annotations

import os
import sys
import tempfile
import warnings
from pathlib import Path


def _seed_corpus(folder: Path) -> None:
    from vtkdicom_app.phantom import MultiFrame, TransferSyntax, write_phantom

    folder.mkdir(parents=True, exist_ok=True)
    if any(folder.iterdir()):
        return
    variants = {"explicit": {}, "implicit": {"transfer_syntax": TransferSyntax.IMPLICIT_LITTLE}, "rle": {"transfer_syntax": TransferSyntax.RLE}, "enhanced": {"multiframe": MultiFrame.ENHANCED}}
    with tempfile.TemporaryDirectory() as tmp:
        for name, opts in variants.items():
            res = write_phantom(Path(tmp) / name, rows=8, columns=8, slices=2, pixel_spacing=(10.0, 10.0), slice_spacing=10.0, **opts)
            (folder / f"{name}.dcm").write_bytes(res.files[0].read_bytes())


def main() -> None:
    """atheris entry point."""
    import atheris

    with atheris.instrument_imports():
        import vtkdicom_app as vda
        from vtkdicom_app.errors import VtkDicomError

    corpus = Path(sys.argv[-1]) if len(sys.argv) > 1 and not sys.argv[-1].startswith("-") else Path(__file__).with_name("corpus")
    _seed_corpus(corpus)
    workdir = Path(tempfile.mkdtemp(prefix="vtkdicom_fuzz_"))

    def one(data: bytes) -> None:
        target = workdir / "f.dcm"
        target.write_bytes(data)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                vda.load(workdir)
        except VtkDicomError:
            pass

    atheris.Setup(sys.argv, one)
    atheris.Fuzz()


if __name__ == "__main__":
    os.environ.setdefault("VTKDICOM_APP_MEMORY_LIMIT", "256M")
    main()
