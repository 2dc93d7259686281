"""Add-on preferences: the model bundle, the motion library folders, the device, the index location
and the Shared Library (a studio's index in Qdrant: blender_addon/shared.py)."""

from __future__ import annotations

import os

import bpy
from bpy.props import CollectionProperty, EnumProperty, FloatVectorProperty, IntProperty, StringProperty
from bpy.types import AddonPreferences, PropertyGroup, UIList

from .highlight import DEFAULT_RAMP

ADDON_DIR = os.path.dirname(os.path.abspath(__file__))
SHIPPED_BUNDLE = os.path.join(ADDON_DIR, "model")


def prefs(context=None):
    """This add-on's preferences."""
    context = context or bpy.context
    return context.preferences.addons[__package__].preferences


def _has_bundle(path: str) -> bool:
    return os.path.isfile(os.path.join(path, "manifest.json"))


def bundle_path(p) -> str:
    """The model bundle folder in use: the preference, else the bundle shipped inside the
    extension, else the repository's `models/default/` (a development checkout)."""
    if p.bundle_path.strip():
        return bpy.path.abspath(p.bundle_path.strip())
    if _has_bundle(SHIPPED_BUNDLE):
        return SHIPPED_BUNDLE
    from runtime.model import default_bundle_path

    return os.fspath(default_bundle_path())


def index_path(p, create: bool = True) -> str:
    """The library index folder: the preference, else `index/` in the extension's user data folder."""
    if p.index_path.strip():
        return bpy.path.abspath(p.index_path.strip())
    try:
        return bpy.utils.extension_path_user(__package__, path="index", create=create)
    except ValueError:  # loaded as a legacy add-on (not from an extension repository)
        return bpy.utils.user_resource('DATAFILES', path=os.path.join("motion_search", "index"), create=create)


def video_python(p) -> str:
    """The Python that reads films (runtime.video needs mediapipe): the preference, else a development
    checkout's video environment (`./dev setup-video`), else "" (not set up)."""
    if p.video_python.strip():
        return bpy.path.abspath(p.video_python.strip())
    try:
        import runtime
    except ImportError:
        return ""
    root = os.path.dirname(os.path.dirname(os.path.abspath(runtime.__file__)))
    windows = os.name == "nt"
    exe = os.path.join(root, ".venvs", "video", "Scripts" if windows else "bin", "python.exe" if windows else "python")
    return exe if os.path.isfile(exe) else ""


def video_dir() -> str:
    """Where the motions read from films are kept (BVH files): `video/` in the add-on's user data folder."""
    try:
        return bpy.utils.extension_path_user(__package__, path="video", create=True)
    except ValueError:  # loaded as a legacy add-on (not from an extension repository)
        return bpy.utils.user_resource('DATAFILES', path=os.path.join("motion_search", "video"), create=True)


def library_sources(p) -> tuple[list[str], list[str]]:
    """(folders to index, problems) from the enabled library folders."""
    sources, problems = [], []
    for item in p.library_folders:
        if not item.use or not item.path.strip():
            continue
        path = os.path.normpath(bpy.path.abspath(item.path.strip()))
        if os.path.exists(path):
            sources.append(path)
        else:
            problems.append(f"library folder not found: {path}")
    return sources, problems


def shared_key_path() -> str:
    """The file that keeps the Shared Library's API key (the add-on's user folder; not a .blend)."""
    from .shared import KEY_FILE

    try:
        folder = bpy.utils.extension_path_user(__package__, create=True)
    except ValueError:  # loaded as a legacy add-on (not from an extension repository)
        folder = bpy.utils.user_resource('CONFIG', path="motion_search", create=True)
    return os.path.join(folder, KEY_FILE)


def shared_settings(p) -> tuple[str, dict[str, str], str | None] | None:
    """(store address, library mounts, API key) of the Shared Library, or None when it is off."""
    from .shared import parse_mounts, read_key, store_address

    address = store_address(p.shared_server, p.shared_collection)
    if not p.use_shared_library or not address:
        return None
    return address, parse_mounts(p.shared_mounts), read_key(shared_key_path())


def library_rig_overrides(p) -> dict | None:
    """The library bone map preference as `LibraryIndex.update`'s rig_overrides (None: not set).

    Raises:
        bonemap.BoneMapError: the file is missing or malformed (the message names it).
    """
    from .bonemap import read_file

    path = p.library_bone_map.strip()
    if not path:
        return None
    return read_file(os.path.normpath(bpy.path.abspath(path)), "Library bone map")


class MOTIONSEARCH_PG_folder(PropertyGroup):
    path: StringProperty(name="Folder", subtype='DIR_PATH', description="A folder of motion files: BVH, ASF/AMC, "
                         "and FBX, glTF/GLB and .blend (read by a background Blender); searched with its sub-folders")
    use: bpy.props.BoolProperty(name="Use", default=True, description="Index this folder")


class MOTIONSEARCH_UL_folders(UIList):
    def draw_item(self, context, layout, data, item, icon, active_data, active_propname, index):
        row = layout.row(align=True)
        row.prop(item, "use", text="")
        row.prop(item, "path", text="", emboss=False)


class MOTIONSEARCH_OT_folder_add(bpy.types.Operator):
    """Add a motion library folder"""

    bl_idname = "motionsearch.folder_add"
    bl_label = "Add Library Folder"
    bl_options = {'INTERNAL'}

    directory: StringProperty(name="Folder", subtype='DIR_PATH')

    def invoke(self, context, event):
        context.window_manager.fileselect_add(self)
        return {'RUNNING_MODAL'}

    def execute(self, context):
        p = prefs(context)
        item = p.library_folders.add()
        item.path = self.directory
        p.library_folders_index = len(p.library_folders) - 1
        return {'FINISHED'}


class MOTIONSEARCH_OT_folder_remove(bpy.types.Operator):
    """Remove the selected library folder (its files leave the index at the next update)"""

    bl_idname = "motionsearch.folder_remove"
    bl_label = "Remove Library Folder"
    bl_options = {'INTERNAL'}

    @classmethod
    def poll(cls, context):
        p = prefs(context)
        return 0 <= p.library_folders_index < len(p.library_folders)

    def execute(self, context):
        p = prefs(context)
        p.library_folders.remove(p.library_folders_index)
        p.library_folders_index = min(p.library_folders_index, len(p.library_folders) - 1)
        return {'FINISHED'}


def _forget(self, context):
    from . import engine

    engine.forget()


def _forget_shared(self, context):
    from . import engine

    engine.forget_shared()


class MOTIONSEARCH_OT_shared_key_set(bpy.types.Operator):
    """Keep the Shared Library's API key in a file of the add-on's user folder (readable by you only;
    never in a .blend file)"""

    bl_idname = "motionsearch.shared_key_set"
    bl_label = "Set API Key"
    bl_options = {'INTERNAL'}

    key: StringProperty(name="API Key", subtype='PASSWORD', options={'SKIP_SAVE', 'HIDDEN'},
                        description="The read-only key your studio gives animators (empty: remove the kept key)")

    def invoke(self, context, event):
        return context.window_manager.invoke_props_dialog(self)

    def execute(self, context):
        from . import engine
        from .shared import write_key

        try:
            write_key(shared_key_path(), self.key)
        except OSError as e:
            self.report({'ERROR'}, f"Cannot keep the API key: {e.strerror or e}")
            return {'CANCELLED'}
        self.key = ""
        engine.forget_shared()
        self.report({'INFO'}, "API key kept" if os.path.exists(shared_key_path()) else "API key removed")
        return {'FINISHED'}


class MotionSearchPreferences(AddonPreferences):
    bl_idname = __package__

    bundle_path: StringProperty(
        name="Model Bundle", subtype='DIR_PATH', update=_forget,
        description="Folder of the search model (ONNX files, tokenizer, manifest.json); "
                    "empty = the model shipped with the add-on")
    device: EnumProperty(
        name="Device", default='AUTO', update=_forget,
        items=[('AUTO', "Auto", "The GPU when onnxruntime can use it, else the CPU"),
               ('CUDA', "CUDA", "An NVIDIA GPU (needs the CUDA build of onnxruntime)"),
               ('CPU', "CPU", "The processor")],
        description="Where the model runs")
    library_folders: CollectionProperty(type=MOTIONSEARCH_PG_folder, name="Library Folders")
    library_folders_index: IntProperty(default=-1)
    library_bone_map: StringProperty(
        name="Library Bone Map", subtype='FILE_PATH',
        description="A JSON bone map {\"left_hip\": \"MyThigh_L\", ...} (as Save Bone Map writes it) for library "
                    "files whose rig no naming convention or skeleton shape maps; empty = none. Changing it "
                    "reads every file again at the next Update Index")
    index_path: StringProperty(
        name="Index Location", subtype='DIR_PATH', update=_forget,
        description="Folder for the library index; empty = the add-on's user data folder")
    use_fusion: bpy.props.BoolProperty(
        name="Rank with Descriptions", default=True,
        description="Rank clips by the model's score fused with how close the query is to each clip's "
                    "descriptions (Find Similar: the query motion's own descriptions; off: the model's score "
                    "alone; explanations come from MaxSim either way)")
    video_python: StringProperty(
        name="Video Python", subtype='FILE_PATH',
        description="A Python 3.11 or 3.12 with video support (mediapipe 0.10.14, OpenCV), which reads films for "
                    "Find Similar to Video: `pip install --no-deps -r video-requirements.txt` into a new virtual "
                    "environment makes one (docs/VIDEO.md); empty = a development checkout's .venvs/video")
    use_shared_library: bpy.props.BoolProperty(
        name="Search the Shared Library", default=False, update=_forget_shared,
        description="Search your studio's shared motion library (a Qdrant server) too: its results and the local "
                    "folders' come in one list")
    shared_server: StringProperty(
        name="Server", update=_forget_shared,
        description="The studio's Qdrant server, e.g. https://qdrant.studio.lan:6333 (https: TLS); or a store "
                    "address (qdrant+edge:///FOLDER) or a studio config file (.json)")
    shared_collection: StringProperty(name="Collection", default="motion", update=_forget_shared,
                                      description="The collection that holds the studio's library")
    shared_mounts: StringProperty(
        name="Library Folders Here", update=_forget_shared,
        description="Where each shared library is on this machine, as name=folder pairs separated by ';' "
                    "(e.g. mocap=Z:\\Mocap; stock=/mnt/stock): Apply reads the clips from these folders")
    color_weak: FloatVectorProperty(name="Weak Match", subtype='COLOR', size=3, min=0.0, max=1.0,
                                    default=DEFAULT_RAMP[0], description="Bone colour of a weak match")
    color_medium: FloatVectorProperty(name="Medium Match", subtype='COLOR', size=3, min=0.0, max=1.0,
                                      default=DEFAULT_RAMP[1], description="Bone colour of a medium match")
    color_strong: FloatVectorProperty(name="Strong Match", subtype='COLOR', size=3, min=0.0, max=1.0,
                                      default=DEFAULT_RAMP[2], description="Bone colour of the strongest match")

    def ramp(self):
        return (tuple(self.color_weak), tuple(self.color_medium), tuple(self.color_strong))

    def draw(self, context):
        from . import engine

        layout = self.layout
        col = layout.column()
        col.prop(self, "bundle_path")
        try:
            col.label(text=f"In use: {bundle_path(self)}", icon='INFO')
        except ImportError:
            col.label(text="The search runtime is not installed", icon='ERROR')
        row = col.row()
        row.prop(self, "device", expand=True)
        note = context.window_manager.motion_search.provider_note if engine.STATE.bundle is not None else ""
        col.label(text=f"Running on: {note}" if note else "Running on: (loaded at the first search)")

        layout.label(text="Motion Library Folders")
        row = layout.row()
        row.template_list("MOTIONSEARCH_UL_folders", "", self, "library_folders", self, "library_folders_index", rows=3)
        ops = row.column(align=True)
        ops.operator("motionsearch.folder_add", icon='ADD', text="")
        ops.operator("motionsearch.folder_remove", icon='REMOVE', text="")
        layout.prop(self, "library_bone_map")

        col = layout.column()
        col.prop(self, "index_path")
        col.label(text=f"In use: {index_path(self, create=False)}", icon='INFO')
        col.prop(self, "use_fusion")
        col = layout.column()
        col.prop(self, "video_python")
        found = video_python(self)
        if found:
            col.label(text=f"Films are read by: {found}", icon='INFO')
        else:
            col.label(text="Find Similar to Video needs a Python with video support", icon='ERROR')
        col.operator("motionsearch.install_video_support", icon='IMPORT')
        box = layout.box()
        box.prop(self, "use_shared_library")
        col = box.column()
        col.active = self.use_shared_library
        col.prop(self, "shared_server")
        col.prop(self, "shared_collection")
        col.prop(self, "shared_mounts")
        row = col.row()
        kept = os.path.exists(shared_key_path())
        from runtime.studio import API_KEY_ENV

        row.label(text="API key: kept for this user" if kept else
                  (f"API key: from {API_KEY_ENV}" if os.environ.get(API_KEY_ENV) else "API key: none"), icon='LOCKED')
        row.operator("motionsearch.shared_key_set", icon='KEY_HLT')
        row = layout.row(align=True)
        row.label(text="Highlight Colours")
        row.prop(self, "color_weak", text="")
        row.prop(self, "color_medium", text="")
        row.prop(self, "color_strong", text="")


classes = (
    MOTIONSEARCH_PG_folder,
    MOTIONSEARCH_UL_folders,
    MOTIONSEARCH_OT_folder_add,
    MOTIONSEARCH_OT_folder_remove,
    MOTIONSEARCH_OT_shared_key_set,
    MotionSearchPreferences,
)
