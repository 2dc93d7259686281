"""Runs inside a real Blender window (../shared/tools/blender-gui) to draw docs/images/blender_panel.png:
installs the built extension zip as a user would, indexes a small library folder in the background,
searches, applies the top hit to an imported armature, highlights it and opens the sidebar tab.

Driven by timers; writes /opt/work/click.txt (the Motion Search tab's screen position) for shot.sh."""

import os
import sys

import blf
import bpy

WORK = "/opt/work"
QUERY = os.environ.get("MS_QUERY", "a person waves with the right hand")
MODULE = "bl_ext.user_default.motion_search"
t = {"step": "install", "polls": 0}


def log(*a):
    print("[shot]", *a, flush=True)


def window_area(kind="VIEW_3D"):
    win = bpy.context.window_manager.windows[0]
    area = next(a for a in win.screen.areas if a.type == kind)
    return win, area, next(r for r in area.regions if r.type == 'WINDOW')


def install():
    zips = [f for f in os.listdir(WORK) if f.startswith("motion_search-") and "-linux_x64" in f and f.endswith(".zip")]
    bpy.ops.extensions.package_install_files(filepath=os.path.join(WORK, zips[0]), repo="user_default",
                                             enable_on_install=True)
    prefs = bpy.context.preferences.addons[MODULE].preferences
    prefs.index_path = os.path.join(WORK, "index")
    prefs.library_folders.add().path = os.path.join(WORK, "library")
    win, area, region = window_area()
    with bpy.context.temp_override(window=win, area=area, region=region):
        for o in list(bpy.data.objects):
            bpy.data.objects.remove(o)
        bpy.ops.import_anim.bvh(filepath=os.path.join(WORK, "performer.bvh"), global_scale=0.01,
                                update_scene_fps=False, update_scene_duration=False)
        obj = bpy.context.active_object
        obj.name = "Performer"
        obj.animation_data_clear()  # start from the rest pose: the search result gives the motion
        bpy.context.scene.render.fps = 30
        assert bpy.ops.motionsearch.index_update() == {'FINISHED'}
    log("installed; indexing")
    return None


def wait_index():
    engine = sys.modules[MODULE + ".engine"]
    st = bpy.context.window_manager.motion_search
    if engine.STATE.job is not None:
        return 0.5
    log("index:", st.index_status)
    st.query = QUERY  # Enter in the field: searches
    log("results:", [(r.label, round(r.score, 3)) for r in st.results[:5]], "provider:", st.provider_note)
    win, area, region = window_area()
    with bpy.context.temp_override(window=win, area=area, region=region):
        assert bpy.ops.motionsearch.apply() == {'FINISHED'}
        assert bpy.ops.motionsearch.highlight() == {'FINISHED'}
        strong = [w for w in st.words if not w.stop]
        bpy.context.scene.frame_set(max(1, (strong[-1].start_frame + strong[-1].end_frame) // 2))
        bpy.ops.object.mode_set(mode='POSE')
        bpy.context.preferences.view.smooth_view = 0  # the view moves at once, not over the next frames
        for pb in bpy.context.object.pose.bones:  # frame the body (not the rig's root bone at the origin)
            pb.bone.select = pb.parent is not None
        bpy.ops.view3d.view_axis(type='FRONT')
        bpy.ops.view3d.view_orbit(angle=0.6, type='ORBITLEFT')
        bpy.ops.view3d.view_orbit(angle=0.25, type='ORBITUP')
        bpy.ops.view3d.view_persportho()  # back to perspective after the axis view
        bpy.ops.view3d.view_selected()
        bpy.ops.pose.select_all(action='DESELECT')
        area.spaces.active.show_region_ui = True
        area.tag_redraw()
    bpy.app.timers.register(click_tab, first_interval=1.5)
    return None


def click_tab():
    """Screen position (X11, top-left origin) of the sidebar's Motion Search tab; Blender 4.3 draws the
    tabs top-down in registration order (built-in Item/Tool/View first), text rotated."""
    win, area, _ = window_area()
    region = next(r for r in area.regions if r.type == 'UI')
    prefs = bpy.context.preferences
    scale, px = prefs.system.ui_scale, prefs.system.pixel_size
    blf.size(0, prefs.ui_styles[0].widget.points * scale)
    pad_text, pad_between = round(6.0 * scale) + 2 * px, round(4.0 * scale)
    y = pad_between
    for name in os.environ.get("MS_TABS", "Item,Tool,View,Motion Search").split(","):
        h = blf.dimensions(0, name)[0] + 2 * pad_text
        if name == "Motion Search":
            cx = region.x + region.width - round(10 * scale)
            cy = region.y + region.height - y - h / 2
            with open(os.path.join(WORK, "click.txt"), "w") as f:
                f.write("%d %d\n" % (cx, win.height - cy))
        y += h + pad_between
    for a in win.screen.areas:
        a.tag_redraw()
    log("click written")
    return None


def quit_blender():
    with bpy.context.temp_override(window=bpy.context.window_manager.windows[0]):
        bpy.ops.wm.quit_blender()


bpy.app.timers.register(install, first_interval=1.0)
bpy.app.timers.register(wait_index, first_interval=3.0)
bpy.app.timers.register(quit_blender, first_interval=float(os.environ.get("MS_QUIT_AT", "58")))
