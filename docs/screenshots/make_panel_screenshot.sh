#!/usr/bin/env bash
# Draws docs/images/blender_panel.png in a real Blender window (Blender 4.3 under Xvfb, see
# ../shared/tools/blender-gui/README.md): the built extension zip, a 14-clip library of real
# Bandai-Namco clips, a search, Apply and Highlight. Needs ImageMagick's convert (apt-get install
# imagemagick), root (chroot) and the chroot made once:
#   sudo ../shared/tools/blender-gui/make-chroot.sh /var/tmp/blender-gui
#   ./dev py blender_addon/build_extension.py
#   sudo docs/screenshots/make_panel_screenshot.sh [CHROOT] [OUT.png]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CHROOT=${1:-/var/tmp/blender-gui}; OUT=${2:-$ROOT/docs/images/blender_panel.png}
TOOLS=${BLENDER_GUI_TOOLS:-$ROOT/../shared/tools/blender-gui}
DATA=${MOTION_SEARCH_CACHE:-$ROOT/.cache}/data
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
cp "$ROOT"/dist/motion_search-*-linux_x64-cp313.zip "$WORK"/  # Debian's Blender runs the system Python 3.13
mkdir "$WORK/library"
for c in 2_wave-right-hand_normal_009 2_wave-left-hand_normal_015 2_wave-both-hands_normal_001 \
         2_raise-up-right-hand_normal_045 2_raise-up-left-hand_normal_045 2_raise-up-both-hands_normal_001 \
         2_walk_normal_001 2_run_normal_001 2_walk-turn-left_normal_001 2_walk_elderly_001 \
         1_kick_normal_001 1_punch_normal_001 1_bow_normal_001 1_dance-short_normal_001; do
  f="$DATA/bandai-namco-${c%%_*}/data/dataset-$c.bvh"
  [ -f "$f" ] && cp "$f" "$WORK/library/" || echo "(no $f; skipped)"
done
cp "$DATA/bandai-namco-2/data/dataset-2_walk_normal_002.bvh" "$WORK/performer.bvh"
export MS_QUERY=${MS_QUERY:-"a person walks forward and then turns left"}  # words that land on two places
SHOT_AT=${SHOT_AT:-50} MS_QUIT_AT=${MS_QUIT_AT:-56} \
  bash "$TOOLS/shot.sh" "$CHROOT" "$ROOT/docs/screenshots/panel_startup.py" "$OUT" "$WORK"
grep '\[shot\]\|Error\|Traceback' "$CHROOT/opt/work/blender.log" || true
