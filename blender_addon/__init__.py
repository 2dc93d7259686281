"""Motion Search: find motion clips in your own library by describing them, and apply them to a rig.

UI glue only: the classes, and register/unregister in order and in reverse. The work lives in
`apply` (retarget a clip onto an armature), `highlight`, `blend_clips`, `engine` (the search
runtime and background indexing) and the torch-free `runtime` package.
"""

import bpy

from . import find_similar, find_video, operators, panels, preferences, props

classes = (props.classes + preferences.classes + operators.classes + find_similar.classes + find_video.classes
           + panels.classes)


def register():
    for cls in classes:
        bpy.utils.register_class(cls)
    props.register_properties()


def unregister():
    from . import engine

    engine.stop()
    engine.forget()
    props.unregister_properties()
    for cls in reversed(classes):
        bpy.utils.unregister_class(cls)
