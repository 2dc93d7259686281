"""Pictures for people: a clip's joint-angle image with a few poses, and explanations.

Uses matplotlib (the `viz` extra), imported only when a picture is drawn.
"""

from __future__ import annotations

import os

import numpy as np

from .motion import BONES, CHANNELS, JOINTS, PARTS, ChannelStats, Motion, clip_angles


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise RuntimeError("drawing PNGs needs matplotlib: pip install 'motion-search[viz]'") from None
    return plt


def _side_color(joint: str) -> str:
    return "#1f77b4" if joint.startswith("left_") else "#d62728" if joint.startswith("right_") else "#444444"


def draw_pose(ax, positions: np.ndarray, x_offset: float = 0.0, view: str = "front", alpha: float = 1.0) -> None:
    """Stick figure of one frame (22, 3): left side blue, right red. view: front (X-Y) or side (Z-Y)."""
    h = 0 if view == "front" else 2
    sign = 1.0  # front view: seen from ahead, so the body's left (+X) is on the viewer's right
    positions = positions.copy()
    positions[:, h] -= positions[0, h]  # each pose centred on its own pelvis
    for child, parent in BONES:
        a, b = positions[parent], positions[child]
        ax.plot([sign * a[h] + x_offset, sign * b[h] + x_offset], [a[1], b[1]],
                color=_side_color(JOINTS[child]), lw=2, alpha=alpha, solid_capstyle="round")
    ax.scatter(sign * positions[:, h] + x_offset, positions[:, 1], s=6, color="k", alpha=alpha, zorder=3)


def angle_image(motion: Motion, stats: ChannelStats | None = None) -> np.ndarray:
    """(29, F) channels scaled for display: z-scored with `stats`, else per channel by the clip itself."""
    a = clip_angles(motion.positions)
    if stats is not None:
        return stats.normalize(a).T
    centre = np.median(a, axis=0)
    floor = np.where([c.startswith("pelvis_t") for c in CHANNELS], 0.05, 5.0)  # metres / degrees
    spread = np.maximum(np.percentile(np.abs(a - centre), 95, axis=0), floor)
    return ((a - centre) / spread).T


def draw_explanation(explanation, motion: Motion, png: str | os.PathLike, score: float | None = None,
                     poses: int = 5) -> None:
    """The query's words on a joints x time heat map, over poses coloured by how strongly they matched."""
    plt = _pyplot()
    heat = explanation.heatmap
    start = explanation.window_start
    t0, t1 = start / motion.fps, (start + heat.shape[1]) / motion.fps
    fig = plt.figure(figsize=(12, 9), dpi=100)
    ax = fig.add_axes((0.16, 0.45, 0.76, 0.48))
    im = ax.imshow(heat, aspect="auto", cmap="magma", vmin=0, vmax=1, interpolation="nearest",
                   extent=(t0, t1, len(JOINTS) - 0.5, -0.5))
    ax.set_yticks(range(len(JOINTS)))
    ax.set_yticklabels(JOINTS, fontsize=7)
    ax.set_xlabel("time in the clip (s)")
    title = f"\"{explanation.text}\"  ->  {os.path.basename(motion.source)}"
    ax.set_title(title + (f"  (score {score:.3f})" if score is not None else ""), fontsize=10)
    fig.colorbar(im, ax=ax, fraction=0.03, pad=0.01, label="match (per word, relative)")
    shown = [w for w in explanation.words if not w.is_stop_word] or explanation.words
    for k, w in enumerate(shown):
        rows = [JOINTS.index(j) for j in w.joints]
        x = (w.start + w.end + 1) / 2 / motion.fps
        ax.annotate(w.word, (x, rows[0]), xytext=(x, rows[0] - 0.8 - 0.9 * (k % 2)), color="cyan", fontsize=9,
                    ha="center", fontweight="bold", arrowprops=dict(arrowstyle="-", color="cyan", lw=0.8))
    frames = np.linspace(start, start + heat.shape[1] - 1, poses).round().astype(int)
    pose_ax = fig.add_axes((0.05, 0.03, 0.9, 0.34))
    cmap = plt.get_cmap("magma")
    for k, f in enumerate(frames):
        p = motion.positions[min(f, motion.num_frames - 1)].copy()
        p[:, 0] -= p[0, 0]
        draw_pose(pose_ax, p, x_offset=k * 1.2, alpha=0.35)
        col = heat[:, min(f - start, heat.shape[1] - 1)]
        pose_ax.scatter(p[:, 0] + k * 1.2, p[:, 1], s=20 + 120 * col, c=cmap(0.15 + 0.85 * col), zorder=4)
        pose_ax.text(k * 1.2, -0.12, f"{f / motion.fps:.1f} s", ha="center", fontsize=8)
    pose_ax.set_aspect("equal")
    pose_ax.axis("off")
    words = "; ".join(f"{w.word}: {w.part} {w.start / motion.fps:.1f}-{(w.end + 1) / motion.fps:.1f} s" for w in shown)
    pose_ax.set_title(f"joints sized and coloured by match strength.  {words}", fontsize=8, wrap=True)
    fig.savefig(png)
    plt.close(fig)


def draw_motion(motion: Motion, png: str | os.PathLike, stats: ChannelStats | None = None, poses: int = 6) -> None:
    """The clip's angle image (channels grouped by body part, over time) above a row of poses."""
    plt = _pyplot()
    img = angle_image(motion, stats)
    fig = plt.figure(figsize=(12, 8.5), dpi=100)
    ax = fig.add_axes((0.2, 0.42, 0.72, 0.52))
    duration = motion.num_frames / motion.fps
    im = ax.imshow(img, aspect="auto", cmap="RdBu_r", vmin=-2.5, vmax=2.5, interpolation="nearest",
                   extent=(0, duration, len(CHANNELS) - 0.5, -0.5))
    ax.set_yticks(range(len(CHANNELS)))
    ax.set_yticklabels(CHANNELS, fontsize=7)
    row = 0
    for part, chans in PARTS:
        if row:
            ax.axhline(row - 0.5, color="k", lw=0.6)
        row += len(chans)
    ax.set_xlabel("time (s)")
    ax.set_title(f"{os.path.basename(motion.source)}: joint angles "
                 f"({'z-scored' if stats else 'per-channel scaled'}; {motion.num_frames} frames at {motion.fps:g} fps, "
                 f"rig {motion.rig})", fontsize=10)
    fig.colorbar(im, ax=ax, fraction=0.03, pad=0.01)

    frames = np.linspace(0, motion.num_frames - 1, poses).round().astype(int)
    pose_ax = fig.add_axes((0.05, 0.03, 0.9, 0.3))
    spacing = 0.9
    for k, f in enumerate(frames):
        draw_pose(pose_ax, motion.positions[f], x_offset=k * spacing * 2, view="front")
        draw_pose(pose_ax, motion.positions[f], x_offset=k * spacing * 2 + spacing, view="side", alpha=0.6)
        pose_ax.text(k * spacing * 2 + spacing / 2, -0.12, f"{f / motion.fps:.1f} s", ha="center", fontsize=8)
        ax.axvline(f / motion.fps, color="k", lw=0.5, ls=":")
    pose_ax.set_aspect("equal")
    pose_ax.axis("off")
    pose_ax.set_title("poses (front | side; left side blue, right red)", fontsize=9)
    fig.savefig(png)
    plt.close(fig)
