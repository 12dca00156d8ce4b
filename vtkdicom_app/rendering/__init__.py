"""Rendering (VTK OpenGL allowed, Qt not): volume rendering, presets, offscreen screenshots."""

from vtkdicom_app.rendering.volume_render import (
    BlendMode,
    MapperKind,
    View,
    VolumePreset,
    VolumeScene,
    choose_mapper,
    ensure_offscreen_backend,
    grab_render_window,
    load_volume_presets,
    opengl_info,
    write_gif,
    write_png,
)

__all__ = [
    "BlendMode",
    "MapperKind",
    "View",
    "VolumePreset",
    "VolumeScene",
    "choose_mapper",
    "ensure_offscreen_backend",
    "grab_render_window",
    "load_volume_presets",
    "opengl_info",
    "write_gif",
    "write_png",
]
