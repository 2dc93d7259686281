"""The "Motion Search" tab of the 3D Viewport sidebar. Layout only: no operators run from draw()."""

from __future__ import annotations

import functools
import os

from bpy.types import Panel, UIList

from runtime.motion import JOINTS

from . import engine
from .bonemap import BoneMapError, confirmation_key, describe, hints, joint_label, resolve, unsure_rows
from .results import duration_text


def _armature(context):
    from .actions import armature_of

    return armature_of(context.active_object)


@functools.lru_cache(maxsize=32)
def _detect(armature: str, bones: tuple[str, ...], user: tuple[tuple[str, str], ...], parents=None, heads=None):
    """(joint -> detected bone text, summary line, error, unsure rows, confirmation key) for the bone
    map section; cached between redraws."""
    try:
        rigmap = resolve(armature, bones, dict(user), parents, heads)
        return hints(rigmap, bones), describe(rigmap, dict(user)), "", unsure_rows(rigmap), confirmation_key(rigmap)
    except BoneMapError as e:
        return {}, "", str(e), [], ""


def bone_map_status(obj):
    """(detected bone texts, summary, error, unsure rows [(joint label, bone, why)], unsure rows
    still to confirm: [] once the user confirmed the map as it is)."""
    pg = obj.data.motion_search
    user = tuple((j, getattr(pg, j)) for j in JOINTS if getattr(pg, j))
    from .apply import skeleton_of

    names, parents, heads = skeleton_of(obj)
    detected, summary, error, unsure, key = _detect(obj.name, names, user, parents,
                                                    tuple(map(tuple, heads.round(5).tolist())))
    return detected, summary, error, unsure, ([] if key and pg.confirmed == key else unsure)


class MOTIONSEARCH_UL_results(UIList):
    """Search results: clip name, score, duration."""

    def draw_item(self, context, layout, data, item, icon, active_data, active_propname, index):
        row = layout.row(align=True)
        row.label(text=item.label, icon='ACTION' if item.clip_id.startswith("blend:") else 'ARMATURE_DATA')
        right = row.row(align=True)
        right.alignment = 'RIGHT'
        right.label(text=f"{item.score:.2f}")
        right.label(text=duration_text(item.duration))


class MOTIONSEARCH_UL_words(UIList):
    """The query's words: body part and the file frames where it matched."""

    def draw_item(self, context, layout, data, item, icon, active_data, active_propname, index):
        split = layout.split(factor=0.3, align=True)
        split.active = not item.stop  # stop words are drawn greyed out
        split.label(text=item.word)
        row = split.row(align=True)
        row.label(text=item.part_label, icon='BONE_DATA')
        right = row.row(align=True)
        right.alignment = 'RIGHT'
        right.label(text=f"{item.start_frame}-{item.end_frame}")


class MOTIONSEARCH_UL_failed(UIList):
    """Library files the index could not read."""

    def draw_item(self, context, layout, data, item, icon, active_data, active_propname, index):
        layout.label(text=f"{os.path.basename(item.path) or item.path}: {item.message}", icon='ERROR')


class MOTIONSEARCH_PT_sidebar(Panel):
    bl_idname = "MOTIONSEARCH_PT_sidebar"
    bl_label = "Motion Search"
    bl_space_type = 'VIEW_3D'
    bl_region_type = 'UI'
    bl_category = "Motion Search"

    def draw(self, context):
        layout = self.layout
        st = context.window_manager.motion_search
        row = layout.row(align=True)
        row.prop(st, "query", text="", icon='VIEWZOOM', placeholder="a person waves with the right hand")
        row.operator("motionsearch.search", text="", icon='PLAY')

        layout.template_list("MOTIONSEARCH_UL_results", "", st, "results", st, "results_index", rows=5)
        selected = st.results[st.results_index] if 0 <= st.results_index < len(st.results) else None
        if selected is not None:
            col = layout.column(align=True)
            col.label(text=os.path.basename(selected.path) or selected.clip_id, icon='FILE')
            col.label(text=f"frames {selected.start_frame}-{selected.end_frame}, {duration_text(selected.duration)}",
                      icon='TIME')
            if selected.description:
                _wrapped(col, selected.description, context, icon='TEXT')
            col.operator("motionsearch.find_similar", icon='VIEWZOOM').source = 'RESULT'

        obj = _armature(context)
        col = layout.column(align=True)
        if obj is None:
            col.label(text="Select an armature to apply clips to", icon='INFO')
        else:
            col.label(text=f"Target: {obj.name}", icon='ARMATURE_DATA')
            if bone_map_status(obj)[4]:
                warn = col.row()
                warn.alert = True
                warn.label(text="Bone map unsure: check the Bone Map section", icon='ERROR')
        row = col.row(align=True)
        row.enabled = obj is not None and selected is not None
        row.operator("motionsearch.apply", icon='ACTION_TWEAK')
        settings = context.scene.motion_search
        col.row(align=True).prop(settings, "apply_as", expand=True)
        if settings.apply_as == 'NLA':
            row = col.row(align=True)
            row.prop(settings, "blend_in")
            row.prop(settings, "blend_out")
        row = col.row(align=True)
        row.enabled = obj is not None
        row.operator("motionsearch.highlight", text="Highlight", icon='COLOR').word_index = -1
        row.operator("motionsearch.reset_colors", text="Reset Colours", icon='LOOP_BACK')
        row = col.row(align=True)
        row.enabled = obj is not None and obj.animation_data is not None and obj.animation_data.action is not None
        row.operator("motionsearch.describe_action", icon='TEXT')
        row.operator("motionsearch.find_similar", text="Find Similar", icon='VIEWZOOM').source = 'ACTION'
        row = col.row(align=True)
        row.operator("motionsearch.find_similar_video", icon='FILE_MOVIE')
        if engine.STATE.video_motion:
            row.operator("motionsearch.apply_video_motion", text="", icon='ARMATURE_DATA')
        if st.action_summary:
            col.label(text=f"{st.action_described}:", icon='ACTION')
            _wrapped(col, st.action_summary, context)

        if selected is not None:
            box = layout.box()
            box.label(text="What matched")
            if engine.STATE.like:
                box.label(text=f"Ranked by how alike the motion is to '{engine.STATE.like}'", icon='INFO')
            elif st.explain_error:
                box.label(text=st.explain_error, icon='ERROR')
            elif st.words:
                box.template_list("MOTIONSEARCH_UL_words", "", st, "words", st, "words_index", rows=3)
                if 0 <= st.words_index < len(st.words):
                    word = st.words[st.words_index]
                    op = box.operator("motionsearch.highlight", text=f"Highlight '{word.word}'", icon='COLOR')
                    op.word_index = st.words_index
            else:
                box.label(text="(no explanation yet)")
            _legend(box, context)


def _legend(layout, context):
    from .preferences import prefs

    p = prefs(context)
    row = layout.row(align=True)
    row.label(text="weak")
    row.prop(p, "color_weak", text="")
    row.prop(p, "color_medium", text="")
    row.prop(p, "color_strong", text="")
    row.label(text="strong")


class MOTIONSEARCH_PT_options(Panel):
    bl_label = "Options"
    bl_space_type = 'VIEW_3D'
    bl_region_type = 'UI'
    bl_category = "Motion Search"
    bl_parent_id = "MOTIONSEARCH_PT_sidebar"
    bl_options = {'DEFAULT_CLOSED'}

    def draw(self, context):
        s = context.scene.motion_search
        col = self.layout.column()
        col.prop(s, "result_count")
        col.prop(s, "use_markers")
        col.prop(s, "use_frame_range")
        col.prop(s, "use_blend_actions")


class MOTIONSEARCH_PT_bone_map(Panel):
    bl_label = "Bone Map"
    bl_space_type = 'VIEW_3D'
    bl_region_type = 'UI'
    bl_category = "Motion Search"
    bl_parent_id = "MOTIONSEARCH_PT_sidebar"
    bl_options = {'DEFAULT_CLOSED'}

    def draw(self, context):
        layout = self.layout
        obj = _armature(context)
        if obj is None:
            layout.label(text="Select an armature", icon='INFO')
            return
        detected, summary, error, unsure, to_confirm = bone_map_status(obj)
        if error:
            col = layout.column()
            col.alert = True
            for line in _wrap(error, context):
                col.label(text=line)
        elif unsure:
            _unsure_box(layout, context, summary, unsure, bool(to_confirm))
        else:
            layout.label(text=summary, icon='CHECKMARK')
        row = layout.row(align=True)
        row.operator("motionsearch.bone_map_detect", text="Fill In Detected", icon='VIEWZOOM')
        row.operator("motionsearch.bone_map_clear", text="Clear", icon='X')
        row = layout.row(align=True)
        row.operator("motionsearch.bone_map_load", text="Load", icon='FILEBROWSER')
        row.operator("motionsearch.bone_map_save", text="Save", icon='FILE_TICK')
        pg = obj.data.motion_search
        col = layout.column(align=True)
        for joint in JOINTS:
            row = col.row(align=True)
            row.prop_search(pg, joint, obj.data, "bones", text=joint_label(joint))
            if not getattr(pg, joint):
                hint = row.row()
                hint.enabled = False
                hint.label(text=detected.get(joint, "?"))


class MOTIONSEARCH_PT_index(Panel):
    bl_label = "Library Index"
    bl_space_type = 'VIEW_3D'
    bl_region_type = 'UI'
    bl_category = "Motion Search"
    bl_parent_id = "MOTIONSEARCH_PT_sidebar"

    def draw(self, context):
        layout = self.layout
        st = context.window_manager.motion_search
        job = engine.STATE.job
        if job is not None and job.running:
            layout.progress(factor=job.fraction, text=job.status())
            layout.operator("motionsearch.index_cancel", icon='CANCEL')
        else:
            layout.operator("motionsearch.index_update", icon='FILE_REFRESH')
            if st.index_status:
                for line in _wrap(st.index_status, context):
                    layout.label(text=line)
        if st.index_failed:
            n = len(st.index_failed)
            layout.label(text=f"{n} file{'s' if n != 1 else ''} could not be indexed:", icon='ERROR')
            layout.template_list("MOTIONSEARCH_UL_failed", "", st, "index_failed", st, "index_failed_index", rows=2)
        from .preferences import prefs

        p = prefs(context)
        used = sum(1 for f in p.library_folders if f.use)
        row = layout.row()
        row.label(text=f"{used} library folders", icon='FILE_FOLDER')
        row.operator("preferences.addon_show", text="", icon='PREFERENCES').module = __package__
        layout.label(text=f"Device: {st.provider_note}" if st.provider_note else "Device: (chosen at the first search)",
                     icon='MEMORY')


def _unsure_box(layout, context, summary: str, unsure, to_confirm: bool) -> None:
    """The joints a shape-found map is unsure of: their bones and why, a button that selects those
    bones in the viewport, and one that confirms the map (Apply asks until then)."""
    box = layout.box()
    col = box.column(align=True)
    col.alert = to_confirm
    _wrapped(col, summary, context, icon='ERROR' if to_confirm else 'CHECKMARK')
    col = box.column(align=True)
    for label, bone, why in unsure:
        col.label(text=f"{label}: {bone}", icon='BONE_DATA')
        sub = col.row()
        sub.enabled = False
        _wrapped(sub.column(align=True), why, context, icon='BLANK1')
    row = box.row(align=True)
    row.operator("motionsearch.bone_map_select_unsure", text="Select Unsure Bones", icon='RESTRICT_SELECT_OFF')
    if to_confirm:
        row.operator("motionsearch.bone_map_confirm", text="Confirm Bone Map", icon='CHECKMARK')
    else:
        row.label(text="Confirmed", icon='CHECKMARK')
    box.label(text="Or pick the right bones in the fields below", icon='INFO')


def _wrapped(layout, text: str, context, icon: str = 'NONE') -> None:
    """`text` as labels that fit the sidebar; the icon on the first line, the others indented to match."""
    for k, line in enumerate(_wrap(text, context)):
        layout.label(text=line, icon=icon if k == 0 or icon == 'NONE' else 'BLANK1')


def _wrap(text: str, context) -> list[str]:
    """Lines that fit the sidebar's width (about 7 pixels per character at UI scale 1)."""
    import textwrap

    region = getattr(context, "region", None)
    scale = context.preferences.system.ui_scale or 1.0  # 0 in a background Blender
    width = max(20, int((region.width if region is not None else 300) / (7.0 * scale)) - 4)
    return textwrap.wrap(text, width) or [""]


classes = (
    MOTIONSEARCH_UL_results,
    MOTIONSEARCH_UL_words,
    MOTIONSEARCH_UL_failed,
    MOTIONSEARCH_PT_sidebar,
    MOTIONSEARCH_PT_options,
    MOTIONSEARCH_PT_bone_map,
    MOTIONSEARCH_PT_index,
)
