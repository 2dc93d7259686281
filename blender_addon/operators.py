"""Operators: thin wrappers that turn properties into calls and errors into reports.

The work is in `apply`, `highlight`, `blend_clips`, `engine` and the runtime, imported inside
`execute` so that enabling the add-on stays cheap.
"""

from __future__ import annotations

import json

import bpy
from bpy.props import BoolProperty, CollectionProperty, FloatProperty, IntProperty, StringProperty
from bpy.types import Operator
from bpy_extras.io_utils import ExportHelper, ImportHelper

from runtime.errors import MotionSearchError
from runtime.io import split_clip_id

from .props import MOTIONSEARCH_PG_marker, quiet


def _state(context):
    return context.window_manager.motion_search


def _settings(context):
    return context.scene.motion_search


def _selected_result(context):
    st = _state(context)
    return st.results[st.results_index] if 0 <= st.results_index < len(st.results) else None


def _armature(context):
    from .actions import armature_of

    return armature_of(context.active_object)


def _unsure_map(context):
    """The active armature's bone map when it is unsure and not confirmed, else None (a map that
    cannot be resolved is left to Apply's own error)."""
    from . import apply, bonemap

    obj = _armature(context)
    if obj is None:
        return None
    try:
        rigmap = apply.resolve_map(obj)
    except apply.ApplyError:
        return None
    return rigmap if bonemap.needs_confirmation(rigmap, obj.data.motion_search.confirmed) else None


def _armature_map(op, context):
    """(the active armature, its resolved bone map), or None after reporting why not."""
    from . import apply

    obj = _armature(context)
    if obj is None:
        op.report({'ERROR'}, "Select an armature")
        return None
    try:
        return obj, apply.resolve_map(obj)
    except apply.ApplyError as e:
        op.report({'ERROR'}, str(e))
        return None


def _load_engine(op, context, need_index=True, level='ERROR'):
    """(bundle, index) or None after reporting why not."""
    from runtime.errors import BundleError, LibraryIndexError

    from . import engine, preferences

    p = preferences.prefs(context)
    try:
        bundle = engine.load_bundle(preferences.bundle_path(p), p.device.lower())
    except BundleError as e:
        op.report({level}, f"Model bundle: {e}")
        return None
    _state(context).provider_note = str(getattr(bundle, "provider_note", "") or getattr(bundle, "provider", ""))
    if not need_index:
        return bundle, None
    try:
        index = engine.open_index(preferences.index_path(p), bundle)
    except LibraryIndexError as e:
        op.report({level}, f"Library index: {e}")
        return None
    return bundle, index


class MOTIONSEARCH_OT_search(Operator):
    """Find the clips of the motion library that best match the query"""

    bl_idname = "motionsearch.search"
    bl_label = "Search Motions"

    def execute(self, context):
        from . import engine, preferences, results

        st = _state(context)
        query = st.query.strip()
        if not query:
            self.report({'ERROR'}, "Type what the motion should show, e.g. 'a person waves with the right hand'")
            return {'CANCELLED'}
        try:
            loaded = _load_engine(self, context)
            if loaded is None:
                return {'CANCELLED'}
            bundle, index = loaded
            p = preferences.prefs(context)
            shared = preferences.shared_settings(p)
            has_local = any(getattr(c, "status", "ok") == 'ok' for c in index.clips)
            if not has_local and shared is None:
                self.report({'WARNING'}, "The library index is empty: add library folders in the preferences "
                                         "and press Update Index")
                return {'CANCELLED'}
            use_fusion = getattr(p, "use_fusion", True)
            k = _settings(context).result_count
            hits = engine.searcher(fusion=use_fusion).search(query, k=k) if has_local else []
            if shared is not None:  # the studio's library: its hits in the same list (a failure is a warning)
                from .shared import merge

                try:
                    hits = merge(hits, engine.shared_searcher(shared, bundle, use_fusion).search(query, k=k), k)
                except MotionSearchError as e:
                    self.report({'WARNING'}, f"Shared library: {e}")
        except ImportError as e:
            self.report({'ERROR'}, f"The search runtime is missing from this installation ({e})")
            return {'CANCELLED'}
        except (ValueError, MotionSearchError) as e:  # an empty query; an index built by another model
            self.report({'ERROR'}, str(e))
            return {'CANCELLED'}
        engine.STATE.hits, engine.STATE.like = list(hits), ""
        st.explain_error = ""
        with quiet():
            st.last_query = query
            results.fill(st.results, results.hit_rows(hits))
            st.results_index = 0 if hits else -1
        st.words.clear()
        st.joint_strengths.clear()
        if hits:
            _explain_selected(self, context, 'WARNING')  # the first hit's words (a failure is reported, the hits stay)
        self.report({'INFO'}, f"{len(hits)} clips for '{query}'" if hits else f"No clips for '{query}'")
        return {'FINISHED'}


def _explain_selected(op, context, level: str = 'ERROR') -> bool:
    """Explain the selected result into the words list and joint strengths; reports and returns False on failure."""
    from . import engine, results

    st = _state(context)
    row = _selected_result(context)
    st.words.clear()
    st.joint_strengths.clear()
    if row is None:
        op.report({level}, "Select a search result first")
        return False
    hits = engine.STATE.hits
    k = st.results_index
    if engine.STATE.like:  # Find Similar's results: alike in motion, no words to explain
        return True
    if k >= len(hits) or str(hits[k].clip_id) != row.clip_id:
        op.report({level}, "The results are out of date: search again")
        return False
    try:
        from runtime.search import explain

        loaded = _load_engine(op, context, level=level)
        if loaded is None:
            return False
        bundle, index = loaded
        if getattr(hits[k], "point_id", ""):  # a Shared Library hit: its patches come from the server
            if engine.STATE.shared is None:
                op.report({level}, "The results are out of date: search again")
                return False
            explanation = engine.STATE.shared.explain(st.last_query or st.query, hits[k])
        else:
            explanation = explain(bundle, st.last_query or st.query, hits[k], index)
    except ImportError as e:
        op.report({level}, f"The search runtime is missing from this installation ({e})")
        return False
    except (ValueError, OSError, MotionSearchError) as e:
        st.explain_error = str(e)
        op.report({level}, f"Cannot explain this match: {e}")
        return False
    st.explain_error = ""
    results.fill(st.words, results.word_rows(explanation))
    st.words_index = -1
    results.fill(st.joint_strengths, [{"joint": j, "strength": float(v)} for j, v in explanation.joint_strength.items()])
    return True


class MOTIONSEARCH_OT_explain(Operator):
    """Show which body part and frames matched each word of the query in the selected clip"""

    bl_idname = "motionsearch.explain"
    bl_label = "Explain Match"

    def execute(self, context):
        return {'FINISHED'} if _explain_selected(self, context) else {'CANCELLED'}


class MOTIONSEARCH_OT_apply(Operator):
    """Put the clip on the active armature: as a new action (the current one is kept) or an NLA strip"""

    bl_idname = "motionsearch.apply"
    bl_label = "Apply to Armature"
    bl_options = {'REGISTER', 'UNDO'}

    filepath: StringProperty(name="File", subtype='FILE_PATH', options={'SKIP_SAVE'},
                             description="Motion file; empty = the selected search result")
    start_frame: IntProperty(name="Start", default=-1, options={'SKIP_SAVE'},
                             description="First frame of the file (-1 = its first)")
    end_frame: IntProperty(name="End", default=-1, options={'SKIP_SAVE'},
                           description="Last frame of the file (-1 = its last)")
    source_fps: FloatProperty(name="File FPS", default=0.0, min=0.0, options={'SKIP_SAVE'},
                              description="The capture's real frame rate when the file's is wrong (0 = the file's)")
    label: StringProperty(name="Name", options={'SKIP_SAVE'}, description="Clip name for the new action")
    markers: CollectionProperty(type=MOTIONSEARCH_PG_marker, options={'SKIP_SAVE'},
                                description="Timeline markers (name, file frame)")
    use_markers: BoolProperty(name="Add Markers", default=True, options={'SKIP_SAVE'})
    use_unsure_map: BoolProperty(name="Apply With an Unsure Bone Map", default=False, options={'SKIP_SAVE'},
                                 description="Apply even when the bone map found by the skeleton's shape is unsure "
                                             "(and confirm that map)")

    def invoke(self, context, event):
        """An unsure bone map not yet confirmed: ask first, naming the joints in doubt."""
        rigmap = _unsure_map(context)
        if rigmap is None or self.use_unsure_map:
            return self.execute(context)
        from . import bonemap

        self.use_unsure_map = True
        return context.window_manager.invoke_confirm(
            self, event, title="Bone Map Unsure", confirm_text="Apply Anyway", icon='WARNING',
            message="The bone map was found by the skeleton's shape and may be wrong for "
                    f"{bonemap.unsure_list(rigmap)}. Apply anyway (and keep this map), or cancel and check it in the "
                    "Bone Map section.")

    def execute(self, context):
        from runtime import retarget

        from . import apply, blend_clips, bonemap, results

        obj = _armature(context)
        if obj is None:
            self.report({'ERROR'}, "Select an armature (or a mesh it deforms) to apply the clip to")
            return {'CANCELLED'}
        rigmap = _unsure_map(context)
        if rigmap is not None:
            if not self.use_unsure_map:
                self.report({'ERROR'}, bonemap.unsure_message(obj.name, rigmap))
                return {'CANCELLED'}
            obj.data.motion_search.confirmed = bonemap.confirmation_key(rigmap)  # asked once per map
        settings = _settings(context)
        motion = None
        path, start, end, fps, label = self.filepath, self.start_frame, self.end_frame, self.source_fps, self.label
        marks = [(m.name, m.frame) for m in self.markers]
        if not path:
            row = _selected_result(context)
            if row is None:
                self.report({'ERROR'}, "Search and pick a clip first (or give a file)")
                return {'CANCELLED'}
            path, start, end, fps, label = row.path, row.start_frame, row.end_frame, row.fps, row.label
            marks = results.markers(_state(context).words)
            from .shared import unmounted_library

            library = unmounted_library(row.clip_id, row.path)
            if library is not None:  # a Shared Library clip: read from this machine's mount of its library
                self.report({'ERROR'}, f"'{label}' is in the shared library '{library}', which is not mounted on "
                                       f"this machine: add '{library}=FOLDER' to Library Folders Here (Preferences "
                                       "> Add-ons > Motion Search > Shared Library)")
                return {'CANCELLED'}
            if split_clip_id(row.clip_id):  # a take of an FBX, glTF or .blend file
                path = row.clip_id
            if row.clip_id.startswith(blend_clips.ID_PREFIX):  # an action of this file, retargeted like a file
                scene = context.scene
                motion = blend_clips.clip_motion(row.clip_id[len(blend_clips.ID_PREFIX):], bpy.data.actions,
                                                 scene.objects, obj,
                                                 retarget.scene_fps(scene.render.fps, scene.render.fps_base),
                                                 scene.unit_settings.scale_length or 1.0)
                if isinstance(motion, str):
                    self.report({'ERROR'}, motion)
                    return {'CANCELLED'}
                path = ""
        if not (self.use_markers and settings.use_markers):
            marks = []
        frame_end = context.scene.frame_end
        try:
            done = apply.apply_clip(obj, context.scene, bpy.path.abspath(path) if path else "", start_frame=start,
                                    end_frame=end, source_fps=fps, label=label, markers=marks, motion=motion,
                                    as_strip=settings.apply_as == 'NLA', blend_in=settings.blend_in,
                                    blend_out=settings.blend_out)
        except apply.ApplyError as e:
            self.report({'ERROR'}, str(e))
            return {'CANCELLED'}
        if not settings.use_frame_range:
            context.scene.frame_end = frame_end
        for w in done.warnings:
            self.report({'WARNING'}, w)
        if done.strip:
            self.report({'INFO'}, f"Added the strip '{done.strip}' to {obj.name}'s NLA track '{done.track}': "
                                  f"frames {done.frame_start}-{done.frame_end}, {done.bones} bones")
            return {'FINISHED'}
        kept = f"; '{done.previous_action}' kept" if done.previous_action else ""
        self.report({'INFO'}, f"Applied '{done.action}' to {obj.name}: frames {done.frame_start}-{done.frame_end}, "
                              f"{done.bones} bones{kept}")
        return {'FINISHED'}


class MOTIONSEARCH_OT_highlight(Operator):
    """Colour the armature's bones by how strongly each body part matched (visible in Pose Mode)"""

    bl_idname = "motionsearch.highlight"
    bl_label = "Highlight Matched Bones"
    bl_options = {'REGISTER', 'UNDO'}

    word_index: IntProperty(name="Word", default=-1, options={'SKIP_SAVE'},
                            description="Highlight one word's body part (-1 = the whole query)")
    strengths: StringProperty(name="Strengths", options={'SKIP_SAVE'},
                              description='JSON {"canonical joint": 0..1}; empty = from the explanation')

    def execute(self, context):
        from . import apply, bonemap, highlight, preferences

        obj = _armature(context)
        if obj is None:
            self.report({'ERROR'}, "Select an armature to highlight")
            return {'CANCELLED'}
        st = _state(context)
        if self.strengths:
            try:
                strength = {str(k): float(v) for k, v in json.loads(self.strengths).items()}
            except (ValueError, AttributeError, TypeError) as e:
                self.report({'ERROR'}, f"Strengths must be a JSON object of joint: number ({e})")
                return {'CANCELLED'}
        elif 0 <= self.word_index < len(st.words):
            strength = {j: 1.0 for j in st.words[self.word_index].joints.split(",") if j}
        else:
            strength = {s.joint: s.strength for s in st.joint_strengths}
        if not strength:
            self.report({'ERROR'}, "Nothing to highlight: search and select a result first")
            return {'CANCELLED'}
        try:
            rigmap = apply.resolve_map(obj)
        except apply.ApplyError as e:
            self.report({'ERROR'}, str(e))
            return {'CANCELLED'}
        bones = highlight.bone_strengths(strength, bonemap.detected_bones(rigmap))
        n = highlight.apply(obj.pose.bones, bones, preferences.prefs(context).ramp())
        self.report({'INFO'}, f"Coloured {n} bones (shown in Pose Mode)")
        return {'FINISHED'}


class MOTIONSEARCH_OT_reset_colors(Operator):
    """Give the bones back the colours they had before highlighting"""

    bl_idname = "motionsearch.reset_colors"
    bl_label = "Reset Bone Colours"
    bl_options = {'REGISTER', 'UNDO'}

    def execute(self, context):
        from . import highlight

        obj = _armature(context)
        if obj is None:
            self.report({'ERROR'}, "Select an armature")
            return {'CANCELLED'}
        n = highlight.reset(obj.pose.bones)
        self.report({'INFO'}, f"Restored the colours of {n} bones")
        return {'FINISHED'}


class MOTIONSEARCH_OT_bone_map_detect(Operator):
    """Fill the bone map with the detected bones, to review or edit them"""

    bl_idname = "motionsearch.bone_map_detect"
    bl_label = "Detect Bone Map"
    bl_options = {'REGISTER', 'UNDO'}

    def execute(self, context):
        from . import apply, bonemap

        found = _armature_map(self, context)
        if found is None:
            return {'CANCELLED'}
        obj, rigmap = found
        pg = obj.data.motion_search
        for joint, bone in bonemap.exact_bones(rigmap).items():  # joints between two bones stay detected
            setattr(pg, joint, bone)
        self.report({'INFO'}, bonemap.describe(rigmap, apply.user_bone_map(obj)))
        return {'FINISHED'}


class MOTIONSEARCH_OT_bone_map_clear(Operator):
    """Forget the bone map edits of this armature (detect every joint from the bone names again)"""

    bl_idname = "motionsearch.bone_map_clear"
    bl_label = "Clear Bone Map"
    bl_options = {'REGISTER', 'UNDO'}

    def execute(self, context):
        from runtime.motion import JOINTS

        obj = _armature(context)
        if obj is None:
            self.report({'ERROR'}, "Select an armature")
            return {'CANCELLED'}
        for joint in JOINTS:
            setattr(obj.data.motion_search, joint, "")
        obj.data.motion_search.confirmed = ""
        return {'FINISHED'}


class MOTIONSEARCH_OT_bone_map_confirm(Operator):
    """Keep the bone map found by the skeleton's shape as it is: Apply stops asking (until the map changes)"""

    bl_idname = "motionsearch.bone_map_confirm"
    bl_label = "Confirm Bone Map"
    bl_options = {'REGISTER', 'UNDO'}

    def execute(self, context):
        from . import bonemap

        found = _armature_map(self, context)
        if found is None:
            return {'CANCELLED'}
        obj, rigmap = found
        obj.data.motion_search.confirmed = bonemap.confirmation_key(rigmap)
        self.report({'INFO'}, f"Bone map of {obj.name} confirmed" if rigmap.unsure else
                    f"The bone map of {obj.name} is sure: nothing to confirm")
        return {'FINISHED'}


class MOTIONSEARCH_OT_bone_map_select_unsure(Operator):
    """Select the bones the bone map is unsure of (in Pose Mode), to see in the viewport where they are"""

    bl_idname = "motionsearch.bone_map_select_unsure"
    bl_label = "Select Unsure Bones"
    bl_options = {'REGISTER', 'UNDO'}

    def execute(self, context):
        found = _armature_map(self, context)
        if found is None:
            return {'CANCELLED'}
        obj, rigmap = found
        chosen = list(dict.fromkeys(bone for _, bone, _ in rigmap.unsure_joints))
        if not chosen:
            self.report({'INFO'}, f"The bone map of {obj.name} is sure of every joint")
            return {'FINISHED'}
        if context.view_layer.objects.active is not obj:
            context.view_layer.objects.active = obj
        if obj.mode != 'POSE':  # selected bones show in Pose Mode
            bpy.ops.object.mode_set(mode='POSE')
        for pb in obj.pose.bones:  # Blender 5 selects pose bones, 4.x the armature's bones
            _select_bone(obj, pb, pb.name in chosen)
        obj.data.bones.active = obj.data.bones[chosen[0]]
        self.report({'INFO'}, f"Selected {len(chosen)} bone{'s' * (len(chosen) != 1)} the bone map is unsure of: "
                              + ", ".join(chosen))
        return {'FINISHED'}


def _select_bone(obj, pose_bone, state: bool) -> None:
    if "select" in pose_bone.bl_rna.properties:
        pose_bone.select = state
    else:
        obj.data.bones[pose_bone.name].select = state


class MOTIONSEARCH_OT_bone_map_save(Operator, ExportHelper):
    """Write the armature's bone map (your entries and the detected bones) to a JSON file, for
    another armature or the Library Bone Map preference"""

    bl_idname = "motionsearch.bone_map_save"
    bl_label = "Save Bone Map"

    filename_ext = ".json"
    filter_glob: StringProperty(default="*.json", options={'HIDDEN'})

    def invoke(self, context, event):
        obj = _armature(context)
        if obj is not None and not self.filepath:
            self.filepath = bpy.path.clean_name(obj.name) + "_bone_map.json"
        return ExportHelper.invoke(self, context, event)

    def execute(self, context):
        from . import apply, bonemap

        obj = _armature(context)
        if obj is None:
            self.report({'ERROR'}, "Select an armature")
            return {'CANCELLED'}
        try:
            rigmap = apply.resolve_map(obj)
        except apply.ApplyError as e:
            self.report({'ERROR'}, f"Nothing saved: {e}")
            return {'CANCELLED'}
        names, _, _ = apply.skeleton_of(obj)
        entries = bonemap.effective_entries(rigmap, names, apply.user_bone_map(obj))
        path = bpy.path.abspath(self.filepath)
        try:
            with open(path, "w", encoding="utf-8") as f:
                json.dump(entries, f, indent=1, ensure_ascii=False)
                f.write("\n")
        except OSError as e:
            self.report({'ERROR'}, f"Cannot write the bone map file '{path}': {e.strerror or e}")
            return {'CANCELLED'}
        self.report({'INFO'}, f"Saved the bone map of {obj.name} ({len(entries)} joints) to {path}")
        return {'FINISHED'}


class MOTIONSEARCH_OT_bone_map_load(Operator, ImportHelper):
    """Set the armature's bone map from a JSON file ({"left_hip": "MyThigh_L", ...}, as Save Bone
    Map writes it); joints the file leaves out are detected"""

    bl_idname = "motionsearch.bone_map_load"
    bl_label = "Load Bone Map"
    bl_options = {'REGISTER', 'UNDO'}

    filename_ext = ".json"
    filter_glob: StringProperty(default="*.json", options={'HIDDEN'})

    def execute(self, context):
        from runtime.motion import JOINTS

        from . import apply, bonemap

        obj = _armature(context)
        if obj is None:
            self.report({'ERROR'}, "Select an armature")
            return {'CANCELLED'}
        path = bpy.path.abspath(self.filepath)
        try:
            mapping = bonemap.read_file(path)
            entries, between = bonemap.entries_for(path, mapping, [b.name for b in obj.data.bones])
        except bonemap.BoneMapError as e:
            self.report({'ERROR'}, str(e))
            return {'CANCELLED'}
        pg = obj.data.motion_search
        for joint in JOINTS:  # the file is the whole bone map: joints it leaves out are detected
            setattr(pg, joint, entries.get(joint, ""))
        if between:
            self.report({'WARNING'}, "Left to detection (the sidebar holds one bone per joint, not a point "
                                     f"between two): {', '.join(bonemap.joint_label(j) for j in between)}")
        try:
            line = bonemap.describe(apply.resolve_map(obj), entries)
        except apply.ApplyError as e:
            self.report({'WARNING'}, str(e))
            line = "the other joints are still missing"
        self.report({'INFO'}, f"Loaded {len(entries)} joints from {path}: {line}")
        return {'FINISHED'}


class MOTIONSEARCH_OT_describe_action(Operator):
    """Say in words what the active armature's current action does (shown in the sidebar)"""

    bl_idname = "motionsearch.describe_action"
    bl_label = "Describe Action"

    def execute(self, context):
        from runtime import retarget

        from . import blend_clips, results

        st = _state(context)
        st.action_summary = st.action_described = ""
        obj = _armature(context)
        if obj is None:
            self.report({'ERROR'}, "Select an armature (or a mesh it deforms) to describe its action")
            return {'CANCELLED'}
        action = obj.animation_data.action if obj.animation_data is not None else None
        if action is None:
            self.report({'ERROR'}, f"'{obj.name}' has no action to describe")
            return {'CANCELLED'}
        scene = context.scene
        try:
            from runtime.describe import describe

            motion = blend_clips.action_motion(action, obj, retarget.scene_fps(scene.render.fps, scene.render.fps_base),
                                               scene.unit_settings.scale_length or 1.0)
            if isinstance(motion, str):
                self.report({'ERROR'}, motion)
                return {'CANCELLED'}
            description = describe(motion)
        except ImportError as e:
            self.report({'ERROR'}, f"The describer is missing from this installation ({e})")
            return {'CANCELLED'}
        except MotionSearchError as e:  # too short to describe, broken positions
            self.report({'WARNING'}, f"Cannot describe '{action.name}': {getattr(e, 'reason', e)}")
            return {'CANCELLED'}
        st.action_summary, st.action_described = description.summary, action.name
        print(f"Motion Search: '{action.name}' on {obj.name}: {description.summary}")
        for event in description.events:
            print(f"  {results.event_line(event, description.fps)}")
        if _unsure_map(context) is not None:  # read through a bone map that may be wrong: say so
            self.report({'WARNING'}, f"{action.name}: {description.summary} (the bone map is unsure: check the "
                        "Bone Map section)")
        else:
            self.report({'INFO'}, f"{action.name}: {description.summary}")
        return {'FINISHED'}


NOT_READ_LISTED = 50  # files not read, listed one by one in the sidebar (all of them are in report.json)


def _finish_index_job(job) -> None:
    """Main thread, from the timer: put the job's outcome into the sidebar."""
    from . import engine

    st = bpy.context.window_manager.motion_search
    st.index_progress = 1.0 if job.error is None else st.index_progress
    st.index_failed.clear()
    engine.index_changed()
    if job.error is not None:
        st.index_status = f"Indexing failed: {job.error}"
        return
    report = job.result
    not_read = list(getattr(report, "not_read", []))  # files in the folders the index does not read
    for path, message in list(report.failed) + list(job.notes) + not_read[:NOT_READ_LISTED]:
        item = st.index_failed.add()
        item.path, item.message = str(path), str(message)
    if len(not_read) > NOT_READ_LISTED:
        item = st.index_failed.add()
        item.path = f"{len(not_read) - NOT_READ_LISTED} more files"
        item.message = "not read: all are listed in report.json in the index folder"
    if hasattr(report, "summary"):  # runtime.index.UpdateReport
        st.index_status = f"Index updated: {report.summary()}"
    else:
        verb = "Cancelled" if job.cancelled else "Index updated"
        st.index_status = (f"{verb}: {report.added} added, {report.updated} updated, {report.removed} removed, "
                           f"{report.unchanged} unchanged, {len(report.failed)} failed")


class MOTIONSEARCH_OT_index_update(Operator):
    """Index new and changed clips of the library folders (and this file's actions) in the background"""

    bl_idname = "motionsearch.index_update"
    bl_label = "Update Index"

    def execute(self, context):
        from runtime import retarget

        from . import blend_clips, engine, preferences

        if engine.STATE.job is not None and engine.STATE.job.running:
            self.report({'WARNING'}, "Indexing is already running")
            return {'CANCELLED'}
        p = preferences.prefs(context)
        sources, problems = preferences.library_sources(p)
        for problem in problems:
            self.report({'WARNING'}, problem)
        clips, skipped = [], []
        if _settings(context).use_blend_actions:
            scene = context.scene
            clips, skipped = blend_clips.collect(
                bpy.data.actions, scene.objects, _armature(context),
                retarget.scene_fps(scene.render.fps, scene.render.fps_base), scene.unit_settings.scale_length or 1.0)
        if not sources and not clips:
            self.report({'ERROR'}, "Nothing to index: add a motion library folder in the add-on preferences")
            return {'CANCELLED'}
        from .bonemap import BoneMapError

        try:
            rig_overrides = preferences.library_rig_overrides(p)
        except BoneMapError as e:
            self.report({'ERROR'}, f"{e}. Fix or clear it in the add-on preferences; indexing did not start")
            return {'CANCELLED'}
        try:
            from runtime.library import MotionItem

            loaded = _load_engine(self, context, need_index=False)
        except ImportError as e:
            self.report({'ERROR'}, f"The search runtime is missing from this installation ({e})")
            return {'CANCELLED'}
        if loaded is None:
            return {'CANCELLED'}
        bundle, _ = loaded
        from runtime.errors import LibraryIndexError

        try:
            index = engine.index_for_update(preferences.index_path(p), bundle)
        except LibraryIndexError as e:
            self.report({'ERROR'}, f"Library index: {e}")
            return {'CANCELLED'}
        if index.replaced:
            self.report({'INFO'}, index.replaced if index.replaced.startswith("The index was damaged") else
                        f"The index was built by another model ({index.replaced}): encoding the library again")
        motions = [MotionItem(id=c.id, motion=c.motion, content_hash=c.content_hash, label=c.label) for c in clips]
        from . import scene_files

        converter = scene_files.converter()  # FBX, glTF, .blend: read by a background Blender

        def work(progress, should_stop):  # in the worker thread: no bpy here
            return index.update(sources, bundle, motions=motions, progress=progress, should_stop=should_stop,
                                converter=converter, rig_overrides=rig_overrides)

        job = engine.start_job(work, "Indexing", on_finish=_finish_index_job)
        job.notes = list(skipped)
        st = _state(context)
        st.index_progress, st.index_status = 0.0, "Indexing..."
        st.index_failed.clear()
        self.report({'INFO'}, f"Indexing {len(sources)} folders and {len(motions)} actions in the background")
        return {'FINISHED'}


class MOTIONSEARCH_OT_index_cancel(Operator):
    """Stop indexing (what is done so far is kept)"""

    bl_idname = "motionsearch.index_cancel"
    bl_label = "Cancel Indexing"

    def execute(self, context):
        from . import engine

        if not engine.cancel_job():
            self.report({'WARNING'}, "No indexing is running")
            return {'CANCELLED'}
        self.report({'INFO'}, "Cancelling indexing")
        return {'FINISHED'}


classes = (
    MOTIONSEARCH_OT_search,
    MOTIONSEARCH_OT_explain,
    MOTIONSEARCH_OT_apply,
    MOTIONSEARCH_OT_highlight,
    MOTIONSEARCH_OT_reset_colors,
    MOTIONSEARCH_OT_describe_action,
    MOTIONSEARCH_OT_bone_map_detect,
    MOTIONSEARCH_OT_bone_map_clear,
    MOTIONSEARCH_OT_bone_map_confirm,
    MOTIONSEARCH_OT_bone_map_select_unsure,
    MOTIONSEARCH_OT_bone_map_save,
    MOTIONSEARCH_OT_bone_map_load,
    MOTIONSEARCH_OT_index_update,
    MOTIONSEARCH_OT_index_cancel,
)
