"""Shared by the benchmark scripts: the cached 512x512x300 phantom and publishing results."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
CT512 = (300, 512, 512)


def ensure_ct512(folder: Path) -> None:
    """Write the 512x512x300 uncompressed phantom with shuffled names unless it is there."""
    if folder.is_dir() and len(list(folder.iterdir())) == CT512[0]:
        return
    from vtkdicom_app.phantom import write_phantom

    print(f"writing the 512x512x300 phantom to {folder} ...", flush=True)
    write_phantom(folder, rows=CT512[1], columns=CT512[2], slices=CT512[0], pixel_spacing=(0.7, 0.7), slice_spacing=1.0, shuffle_names=True)


def publish(lines: list[str], *, append: bool) -> None:
    """Print a results section and append it to benchmarks/RESULTS.md."""
    text = "\n".join(lines)
    print()
    print(text)
    if append:
        results = HERE / "RESULTS.md"
        if not results.exists():
            results.write_text("# Benchmark results\n\nAppended by the scripts in this folder; newest last.\n\n")
        with results.open("a") as fh:
            fh.write(text + "\n")
