"""Properties: settings saved in the file (Scene, Armature) and transient UI state (WindowManager).

    Scene.motion_search          MOTIONSEARCH_PG_settings   per-file options (results count, markers...)
    Armature.motion_search       MOTIONSEARCH_PG_bone_map   the user's bone map edits for that rig
    WindowManager.motion_search  MOTIONSEARCH_PG_state      query, results, explanation, action description,
                                                            index progress
"""

from __future__ import annotations

import bpy
from bpy.props import (BoolProperty, CollectionProperty, EnumProperty, FloatProperty, IntProperty, PointerProperty,
                       StringProperty)
from bpy.types import PropertyGroup

from runtime.motion import JOINTS

from .bonemap import joint_label


def _on_query(self, context):
    """Enter in the search field searches (once per new query)."""
    query = self.query.strip()
    if not query or query == self.last_query or _BUSY:
        return
    _run("search")


def _on_result(self, context):
    """Selecting a result explains it (which word matched which body part, and when)."""
    if 0 <= self.results_index < len(self.results) and not _BUSY:
        _run("explain")


_BUSY = []  # an operator started from an update callback is running


class quiet:
    """`with quiet():` property changes made by the add-on itself do not trigger the callbacks."""

    def __enter__(self):
        _BUSY.append("quiet")

    def __exit__(self, *exc):
        _BUSY.pop()


def _run(op: str) -> None:
    _BUSY.append(op)
    try:
        getattr(bpy.ops.motionsearch, op)('EXEC_DEFAULT')
    except RuntimeError:  # the operator reported an error; it is shown in the status bar already
        pass
    finally:
        _BUSY.pop()


class MOTIONSEARCH_PG_marker(PropertyGroup):
    """A timeline marker for the Apply operator: name (built-in) and a source frame."""

    frame: IntProperty(name="Frame", description="Frame of the motion file")


class MOTIONSEARCH_PG_result(PropertyGroup):
    clip_id: StringProperty(name="Clip", description="Clip id in the index")
    path: StringProperty(name="File", description="Motion file the clip comes from", subtype='FILE_PATH')
    label: StringProperty(name="Name")
    score: FloatProperty(name="Score", description="How well the clip matches the query")
    start_frame: IntProperty(name="Start", description="First matching frame of the file")
    end_frame: IntProperty(name="End", description="Last matching frame of the file")
    fps: FloatProperty(name="FPS", description="Frame rate of the file")
    duration: FloatProperty(name="Duration", description="Seconds", subtype='TIME_ABSOLUTE')
    description: StringProperty(name="Description", description="What the clip shows, in words (from the index)")


class MOTIONSEARCH_PG_word(PropertyGroup):
    word: StringProperty(name="Word")
    part: StringProperty(name="Body Part", description="Body part (runtime.motion.features name)")
    part_label: StringProperty(name="Body Part")
    joints: StringProperty(name="Joints", description="Canonical joints of the body part, comma separated")
    start_frame: IntProperty(name="Start", description="File frame where the word matched")
    end_frame: IntProperty(name="End")
    score: FloatProperty(name="Score")
    stop: BoolProperty(name="Stop Word", description="A word like 'a' or 'the', matched but not meaningful")


class MOTIONSEARCH_PG_strength(PropertyGroup):
    joint: StringProperty(name="Joint")
    strength: FloatProperty(name="Strength", min=0.0, max=1.0, subtype='FACTOR')


class MOTIONSEARCH_PG_failed(PropertyGroup):
    path: StringProperty(name="File")
    message: StringProperty(name="Problem")


class MOTIONSEARCH_PG_settings(PropertyGroup):
    result_count: IntProperty(name="Results", description="How many clips a search lists", default=20,
                              min=1, max=200)
    use_markers: BoolProperty(name="Add Markers", default=True,
                              description="Mark on the timeline where each word of the query matched")
    use_frame_range: BoolProperty(name="Set Frame Range", default=True,
                                  description="Set the scene's end frame to the end of the applied clip")
    use_blend_actions: BoolProperty(name="Index Actions in This File", default=True,
                                    description="Also search the armature actions of this .blend file")
    apply_as: EnumProperty(name="Apply As", default='ACTION', items=[
        ('ACTION', "Action", "Make the clip the armature's active action, keyed from the scene's start frame"),
        ('NLA', "NLA Strip", "Add the clip to the armature's NLA as a strip at the current frame, to chain clips "
                "(the active action stays)")])
    blend_in: IntProperty(name="Blend In", default=0, min=0, soft_max=60,
                          description="Frames over which a new NLA strip fades in")
    blend_out: IntProperty(name="Blend Out", default=0, min=0, soft_max=60,
                           description="Frames over which a new NLA strip fades out")


class MOTIONSEARCH_PG_bone_map(PropertyGroup):
    """One bone name per canonical joint; empty = detected from the bone names."""


MOTIONSEARCH_PG_bone_map.__annotations__ = {
    j: StringProperty(name=joint_label(j), description=f"Bone for the {joint_label(j).lower()} joint "
                      "(leave empty to detect it from the bone names)")
    for j in JOINTS
} | {
    # an unsure map found by the skeleton's shape, as the user confirmed it (bonemap.confirmation_key)
    "confirmed": StringProperty(name="Confirmed Bone Map", options={'HIDDEN'},
                                description="The unsure joints and their bones as you confirmed them"),
}


class MOTIONSEARCH_PG_state(PropertyGroup):
    query: StringProperty(name="Query", description="Describe the motion, e.g. a person waves with the right hand",
                          update=_on_query)
    last_query: StringProperty()
    results: CollectionProperty(type=MOTIONSEARCH_PG_result)
    results_index: IntProperty(name="Result", default=-1, update=_on_result)
    words: CollectionProperty(type=MOTIONSEARCH_PG_word)
    words_index: IntProperty(name="Word", default=-1)
    joint_strengths: CollectionProperty(type=MOTIONSEARCH_PG_strength)
    explain_error: StringProperty()
    action_summary: StringProperty(name="Action Description",
                                   description="What the armature's action does, in words (Describe Action)")
    action_described: StringProperty(name="Described Action", description="The action the description is of")
    provider_note: StringProperty(name="Device in Use")
    index_progress: FloatProperty(min=0.0, max=1.0, subtype='FACTOR')
    index_status: StringProperty()
    index_failed: CollectionProperty(type=MOTIONSEARCH_PG_failed)
    index_failed_index: IntProperty(default=-1)


classes = (
    MOTIONSEARCH_PG_marker,
    MOTIONSEARCH_PG_result,
    MOTIONSEARCH_PG_word,
    MOTIONSEARCH_PG_strength,
    MOTIONSEARCH_PG_failed,
    MOTIONSEARCH_PG_settings,
    MOTIONSEARCH_PG_bone_map,
    MOTIONSEARCH_PG_state,
)


def register_properties() -> None:
    bpy.types.Scene.motion_search = PointerProperty(type=MOTIONSEARCH_PG_settings)
    bpy.types.Armature.motion_search = PointerProperty(type=MOTIONSEARCH_PG_bone_map)
    bpy.types.WindowManager.motion_search = PointerProperty(type=MOTIONSEARCH_PG_state)


def unregister_properties() -> None:
    del bpy.types.WindowManager.motion_search
    del bpy.types.Armature.motion_search
    del bpy.types.Scene.motion_search
