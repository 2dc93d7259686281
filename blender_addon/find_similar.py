"""Find Similar: the library's clips ranked by how alike their motion is (runtime.search.similar), from
the selected result (its stored patches: nothing is read again) or from the active armature's
current action (sampled as the index samples the file's actions: blend_clips.action_motion). The
query clip itself is left out. The hits fill the same results list as a text search; they have no
words to explain."""

from __future__ import annotations

import bpy
from bpy.props import EnumProperty
from bpy.types import Operator

from runtime.errors import MotionSearchError

from .operators import _armature, _load_engine, _selected_result, _settings, _state, _unsure_map
from .props import quiet


def _query(op, context, searcher):
    """(query, clip positions to leave out) for the operator's source, or None after reporting why not."""
    from runtime import retarget

    from . import blend_clips

    if op.source == 'RESULT':
        row = _selected_result(context)
        if row is None:
            op.report({'ERROR'}, "Select a result first")
            return None
        clip = searcher.clip_index(row.clip_id)
        if clip is None:
            op.report({'ERROR'}, f"'{row.label}' is no longer in the index: search again")
            return None
        return searcher.clip_query(clip), {clip}
    obj = _armature(context)
    action = obj.animation_data.action if obj is not None and obj.animation_data is not None else None
    if action is None:
        op.report({'ERROR'}, "Select an armature that plays an action" if obj is None else f"'{obj.name}' has no action")
        return None
    scene = context.scene
    motion = blend_clips.action_motion(action, obj, retarget.scene_fps(scene.render.fps, scene.render.fps_base),
                                       scene.unit_settings.scale_length or 1.0)
    if isinstance(motion, str):
        op.report({'ERROR'}, motion)
        return None
    own = searcher.clip_index(f"{blend_clips.ID_PREFIX}{action.name}")  # the action itself, when indexed
    return searcher.encode(motion, action.name), set() if own is None else {own}


def show_hits(context, hits, like: str) -> None:
    """Find Similar's hits (alike the motion called `like`) into the results list, as a search's."""
    from . import engine, results

    st = _state(context)
    engine.STATE.hits, engine.STATE.like = list(hits), like
    with quiet():
        st.last_query = ""
        results.fill(st.results, results.hit_rows(hits))
        st.results_index = 0 if hits else -1
    st.words.clear()
    st.joint_strengths.clear()
    st.explain_error = ""


class MOTIONSEARCH_OT_find_similar(Operator):
    """Find the library's clips whose motion is most alike (the clip itself is left out)"""

    bl_idname = "motionsearch.find_similar"
    bl_label = "Find Similar"

    source: EnumProperty(name="Like", default='RESULT', options={'SKIP_SAVE'},
                         items=(('RESULT', "Selected Result", "Clips alike the selected result"),
                                ('ACTION', "Armature's Action", "Clips alike the active armature's current action")))

    def execute(self, context):
        from . import engine

        try:
            loaded = _load_engine(self, context)
            if loaded is None:
                return {'CANCELLED'}
            searcher = engine.searcher()
            got = _query(self, context, searcher)
            if got is None:
                return {'CANCELLED'}
            query, exclude = got
            hits = searcher.search_like(query, k=_settings(context).result_count, exclude=exclude)
        except ImportError as e:
            self.report({'ERROR'}, f"The search runtime is missing from this installation ({e})")
            return {'CANCELLED'}
        except (ValueError, MotionSearchError) as e:
            self.report({'ERROR'}, str(e))
            return {'CANCELLED'}
        show_hits(context, hits, query.name)
        if self.source == 'ACTION' and _unsure_map(context) is not None:  # read through a map that may be wrong
            self.report({'WARNING'}, f"{len(hits)} clips alike '{query.name}' (the bone map is unsure: check the "
                        "Bone Map section)")
        else:
            self.report({'INFO'}, f"{len(hits)} clips alike '{query.name}'")
        return {'FINISHED'}


classes = (MOTIONSEARCH_OT_find_similar,)
