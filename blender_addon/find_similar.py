"""Find Similar: the library's clips ranked by how alike their motion is (runtime.search.similar), from
the selected result (its stored patches: nothing is read again) or from the active armature's
current action (sampled as the index samples the file's actions: blend_clips.action_motion). The
query clip itself is left out. The hits fill the same results list as a text search; they have no
words to explain. With the Shared Library on, its clips are ranked by the same score and come in the
same list (a selected shared result is the query from its patches on the server)."""

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
        from . import engine

        k = _state(context).results_index
        hit = engine.STATE.hits[k] if k < len(engine.STATE.hits) else None
        if getattr(hit, "point_id", "") and engine.STATE.shared is not None and str(hit.clip_id) == row.clip_id:
            return engine.STATE.shared.clip_query(hit.library, hit.clip_key), set()  # a Shared Library clip
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


def _with_shared(op, context, query, hits: list, count: int) -> list:
    """The local hits and the Shared Library's alike `query` in one list (the same score), the query
    clip itself left out of both (by its content); a server that fails is a warning."""
    from . import engine, preferences
    from .shared import merge

    shared = preferences.shared_settings(preferences.prefs(context))
    if shared is None:
        return hits
    row = _selected_result(context) if op.source == 'RESULT' else None
    k = _state(context).results_index
    selected = engine.STATE.hits[k] if row is not None and k < len(engine.STATE.hits) else None
    own = {getattr(selected, "clip_key", None), None} - {None}
    try:
        found = engine.shared_searcher(shared, engine.STATE.bundle).search_like(query, count + 1)
    except MotionSearchError as e:
        op.report({'WARNING'}, f"Shared library: {e}")
        return hits
    if row is not None:  # the selected clip itself, in either list: left out
        found = [h for h in found if h.clip_key not in own and h.path != row.path]
        hits = [h for h in hits if not (row.path and h.path == row.path)]
    return merge(hits, found, count)


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
        from . import engine, preferences

        try:
            loaded = _load_engine(self, context)
            if loaded is None:
                return {'CANCELLED'}
            # ranked with the clips' descriptions too, as text search is (the preference Rank with Descriptions)
            searcher = engine.searcher(fusion=getattr(preferences.prefs(context), "use_fusion", True))
            got = _query(self, context, searcher)
            if got is None:
                return {'CANCELLED'}
            query, exclude = got
            count = _settings(context).result_count
            hits = searcher.search_like(query, k=count, exclude=exclude)
            hits = _with_shared(self, context, query, hits, count)
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
