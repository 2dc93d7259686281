"""The add-on installs as an extension, registers and unregisters cleanly, and its UI draws."""

from __future__ import annotations

import types

import addon_utils
import bpy

from .conftest import MODULE, submodule

CLASS_NAMES = ("MOTIONSEARCH_OT_search", "MOTIONSEARCH_OT_apply", "MOTIONSEARCH_OT_highlight",
               "MOTIONSEARCH_OT_reset_colors", "MOTIONSEARCH_OT_describe_action", "MOTIONSEARCH_OT_index_update",
               "MOTIONSEARCH_OT_index_cancel", "MOTIONSEARCH_OT_bone_map_save", "MOTIONSEARCH_OT_bone_map_load",
               "MOTIONSEARCH_PT_sidebar", "MOTIONSEARCH_PT_bone_map", "MOTIONSEARCH_PT_index",
               "MOTIONSEARCH_UL_results", "MOTIONSEARCH_UL_words")


def _registered() -> dict[str, bool]:
    return {name: hasattr(bpy.types, name) for name in CLASS_NAMES} | {
        "Scene.motion_search": hasattr(bpy.types.Scene, "motion_search"),
        "Armature.motion_search": hasattr(bpy.types.Armature, "motion_search"),
        "WindowManager.motion_search": hasattr(bpy.types.WindowManager, "motion_search"),
        "preferences": MODULE in bpy.context.preferences.addons,
    }


def test_installed_as_extension_with_preferences(addon):
    assert addon.__name__ == MODULE
    assert addon.__package__ == MODULE
    prefs = bpy.context.preferences.addons[MODULE].preferences
    assert type(prefs).bl_idname == MODULE == submodule("preferences").__package__
    assert prefs.device == 'AUTO' and prefs.bundle_path == "" and len(prefs.library_folders) == 0
    # the index lives in the extension's own user data folder by default
    index_dir = submodule("preferences").index_path(prefs)
    assert index_dir == bpy.utils.extension_path_user(MODULE, path="index")
    assert all(_registered().values()), _registered()


def test_disable_and_enable_twice(addon):
    for _ in range(2):
        addon_utils.disable(MODULE, default_set=True)
        assert not any(_registered().values()), _registered()
        assert addon_utils.enable(MODULE, default_set=True, persistent=True) is not None
        assert all(_registered().values()), _registered()
    assert not bpy.app.timers.is_registered(submodule("engine").poll_job)


def test_settings_saved_per_file_state_per_session(empty_scene):
    scene = bpy.context.scene
    assert scene.motion_search.result_count == 20 and scene.motion_search.use_markers
    assert hasattr(bpy.context.window_manager.motion_search, "results")  # transient state: not saved
    arm = bpy.data.armatures.new("rig")
    arm.motion_search.left_wrist = "hand.L"
    assert arm.motion_search.left_wrist == "hand.L"


class _Recorder:
    """A stand-in UILayout that records every call (panels are never drawn headless)."""

    def __init__(self, log, path="layout"):
        object.__setattr__(self, "_log", log)
        object.__setattr__(self, "_path", path)

    def __getattr__(self, name):
        def call(*args, **kwargs):
            self._log.append((f"{self._path}.{name}", args, kwargs))
            return _Recorder(self._log, f"{self._path}.{name}")
        return call

    def __setattr__(self, name, value):
        self._log.append((f"{self._path}.{name}=", (value,), {}))


def _draw(panel_cls, context) -> list:
    log: list = []
    panel_cls.draw(types.SimpleNamespace(layout=_Recorder(log)), context)
    return log


def test_panels_draw_without_errors(empty_scene, bandai2):
    from .conftest import WAVE, import_bvh

    panels = submodule("panels")
    for cls in (panels.MOTIONSEARCH_PT_sidebar, panels.MOTIONSEARCH_PT_options,
                panels.MOTIONSEARCH_PT_bone_map, panels.MOTIONSEARCH_PT_index):
        assert _draw(cls, bpy.context)  # no armature yet
    import_bvh(bandai2 / WAVE)
    log = _draw(panels.MOTIONSEARCH_PT_bone_map, bpy.context)
    searched = [call for call in log if call[0].endswith("prop_search")]
    assert len(searched) == 22  # one field per canonical joint
    labels = [kw.get("text") for name, _, kw in log if name.endswith(".label")]
    assert "Bone map: bandai names" in labels
    assert "UpperArm_R" in labels  # the detected bone is shown beside an empty field
    ops = [args[0] for name, args, _ in log if name.endswith(".operator")]
    assert "motionsearch.bone_map_load" in ops and "motionsearch.bone_map_save" in ops
    prefs = bpy.context.preferences.addons[MODULE].preferences
    log = []
    type(prefs).draw(_WithLayout(prefs, _Recorder(log)), bpy.context)
    assert any(name.endswith("template_list") for name, _, _ in log)
    assert any(name.endswith(".prop") and args[1:] == ("library_bone_map",) for name, args, _ in log)


class _WithLayout:
    """The preferences object with a recording layout (AddonPreferences.layout is read-only)."""

    def __init__(self, real, layout):
        self._real, self.layout = real, layout

    def __getattr__(self, name):
        return getattr(self._real, name)


def test_lists_and_selected_result_draw(empty_scene, bandai2):
    """The sidebar with a result and its words selected, and every list row, draw without errors."""
    from .conftest import WAVE, import_bvh

    import_bvh(bandai2 / WAVE)
    panels, results = submodule("panels"), submodule("results")
    st = bpy.context.window_manager.motion_search
    hit = types.SimpleNamespace(clip_id="blend:walk", path="", label="walk", score=0.5, start_frame=0, end_frame=40,
                                fps=24.0, duration_s=1.7)
    described = types.SimpleNamespace(**vars(hit), description="A person walks in a circle.")
    results.fill(st.results, results.hit_rows([hit, described]))
    assert st.results[0].description == ""  # a hit without a description (an index from before the describer)
    results.fill(st.words, [{"word": "the", "part": "lumbar", "part_label": "spine", "joints": "spine1",
                             "start_frame": 0, "end_frame": 8, "score": 0.1, "stop": True}])
    item = st.index_failed.add()
    item.path, item.message = "/lib/bad.bvh", "bad.bvh:3: unexpected end of file"
    with submodule("props").quiet():
        st.results_index, st.words_index = 1, 0
    st.action_summary, st.action_described = "A person waves the right hand.", "wave"
    try:
        log = _draw(panels.MOTIONSEARCH_PT_sidebar, bpy.context)
        labels = [kw.get("text") for name, _, kw in log if name.endswith(".label")]
        assert "blend:walk" in labels and "frames 0-40, 1.7 s" in labels
        assert "A person walks in a circle." in labels  # the selected result's description
        assert "wave:" in labels and "A person waves the right hand." in labels  # Describe Action's summary
        assert any(args == ("motionsearch.describe_action",) for name, args, _ in log if name.endswith(".operator"))
        assert "Target: " + bpy.context.active_object.name in labels
        assert any(kw.get("text") == "Highlight 'the'" for name, _, kw in log if name.endswith(".operator"))
        assert _draw(panels.MOTIONSEARCH_PT_index, bpy.context)
        for ul, coll in ((panels.MOTIONSEARCH_UL_results, st.results), (panels.MOTIONSEARCH_UL_words, st.words),
                         (panels.MOTIONSEARCH_UL_failed, st.index_failed)):
            row_log: list = []
            ul.draw_item(None, bpy.context, _Recorder(row_log), st, coll[0], 0, st, "", 0)
            assert row_log
    finally:
        st.results.clear()
        st.words.clear()
        st.index_failed.clear()
        st.action_summary = st.action_described = ""
