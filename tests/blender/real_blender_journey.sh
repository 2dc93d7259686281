#!/bin/bash
# The installed-extension journey (tests/blender/installed_journey.py) in a real Blender executable:
# the chroot of ../shared/tools/blender-gui (Debian's Blender 4.3, Python 3.13), headless.
#
#   sudo ../shared/tools/blender-gui/make-chroot.sh /var/tmp/blender-gui            # once per machine
#   ./dev py blender_addon/build_extension.py --platforms linux-x64 --pythons 3.13 --out-dir /tmp/zip313
#   sudo tests/blender/real_blender_journey.sh /var/tmp/blender-gui /tmp/zip313/motion_search-*-cp313.zip
#
# The library (two.fbx / two.glb / two.blend from one real clip, plus four BVH clips) is written by
# that Blender's own exporters first, in a fresh user folder; the journey then runs in another
# fresh user folder with `blender -b --factory-startup`, so the background converter it starts is
# that Blender executable too. Prints the journey's summary; exits non-zero when a check fails.
set -euo pipefail
R=${1:?chroot}; ZIP=${2:?extension zip}
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
DATA="${MOTION_SEARCH_CACHE:-$REPO/.cache}/data"
W="$R/opt/journey"
rm -rf "$W"; mkdir -p "$W/library" "$W/user" "$W/make-user" "$W/home" "$W/tmp" "$W/shim"
cp "$ZIP" "$W/ext.zip"
cp "$HERE/installed_journey.py" "$W/"
B2="$DATA/bandai-namco-2/data"
for f in dataset-2_walk-turn-left_normal_001 dataset-2_raise-up-both-hands_normal_001 dataset-2_run_normal_001 \
         dataset-2_wave-left-hand_normal_001; do cp "$B2/$f.bvh" "$W/library/"; done
cp "$B2/dataset-2_wave-right-hand_normal_001.bvh" "$W/wave.bvh"
cp "$DATA/bandai-namco-1/data/dataset-1_bow_active_001.bvh" "$W/target.bvh"
cat > "$W/make_library.py" <<'PY'
# two.fbx (takes Wave and Backward), two.glb, two.blend: as tests/blender/test_scene_files.py makes them
import bpy, addon_utils
for m in ("io_anim_bvh", "io_scene_fbx", "io_scene_gltf2"):
    addon_utils.enable(m, default_set=True)
bpy.ops.wm.read_homefile(use_empty=True)
bpy.ops.import_anim.bvh(filepath="/opt/journey/wave.bvh", update_scene_fps=True, update_scene_duration=True)
arm = bpy.context.active_object
arm.name = "Armature"
wave = arm.animation_data.action
wave.name = "Wave"
back = wave.copy()
back.name, back.use_fake_user = "Backward", True
first, last = (int(round(x)) for x in wave.frame_range)
for fc in back.fcurves:
    for kp in fc.keyframe_points:
        kp.co.x = first + last - kp.co.x
        kp.interpolation = 'LINEAR'
    fc.update()
out = "/opt/journey/library/two"
bpy.ops.export_scene.fbx(filepath=out + ".fbx", use_selection=True, bake_anim=True, bake_anim_use_all_actions=True,
                         bake_anim_use_nla_strips=False, bake_anim_simplify_factor=0.0, add_leaf_bones=False)
bpy.ops.export_scene.gltf(filepath=out + ".glb", export_format='GLB', use_selection=True)
bpy.ops.wm.save_as_mainfile(filepath=out + ".blend", copy=True)
PY
cat > "$W/run.sh" <<'IN'
#!/bin/bash
set -e
cd /opt/journey
export HOME=/opt/journey/home TMPDIR=/opt/journey/tmp
BLENDER_USER_RESOURCES=/opt/journey/make-user blender -b --factory-startup --python make_library.py >make.log 2>&1
blender --version | head -1 > version.txt
BLENDER_USER_RESOURCES=/opt/journey/user blender -b --factory-startup --python-expr "
import sys
sys.argv = ['installed_journey.py', '/opt/journey/shim', '/opt/journey/ext.zip', '/opt/journey/library',
            '/opt/journey/target.bvh', '/nonexistent-repo', '/opt/journey/journey.json']
exec(compile(open('/opt/journey/installed_journey.py').read(), 'installed_journey.py', 'exec'))
" >journey.log 2>&1
IN
chmod +x "$W/run.sh"
mount -t proc proc "$R/proc"; mount --bind /dev "$R/dev"
trap 'umount "$R/dev"; umount "$R/proc"' EXIT
status=0
chroot "$R" /opt/journey/run.sh || status=$?
cat "$W/version.txt" 2>/dev/null || true
cat "$W/journey.json" 2>/dev/null || tail -40 "$W/journey.log" "$W/make.log"
exit $status
