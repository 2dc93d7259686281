"""Descriptions borrowed from the training clips nearest in motion (a bundle's `reference`).

The describer (runtime/describe) names what it can measure: walks, turns, raised hands. The
training clips carry what people said of them: CMU's descriptions, Bandai-Namco's content and
style labels ("a person walks angrily"). A bundle may carry, for every training-split clip, its
motion vector and the sentence vector of those captions, as the constants of a small ONNX graph
(`reference.onnx`, made by exporter/make_reference.py, as the codebook's centroids are): given
unit motion vectors and a number of neighbours (the manifest's `neighbours`), it returns for each
the unit mean caption vector of its nearest training clips by cosine. A library clip's description vector
(runtime/index/descriptions.py) adds that, times the manifest's `weight`: what people said of the
motions most like it. The clips of the free-form queries are never among them (validation and
test splits, CMU's eval-only trials); the number of neighbours and the weight were chosen on the
free-form validation queries (docs/RESULTS.md).

A clip's motion vector is the unit mean of its windows' pooled vectors (each the unit mean of the
window's patches, as an index stores it: float16): runtime.index.clip_motion_vectors.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Reference:
    id: str
    session: object  # onnxruntime session of reference.onnx: motion (M, D) -> captions (M, S)
    neighbours: int
    weight: float
    clips: int
    sentence_dim: int

    def caption_vectors(self, motion_vectors: np.ndarray) -> np.ndarray:
        """(clips, S) float32: for each unit motion vector, the unit mean caption vector of its
        `neighbours` nearest training clips (zeros for a zero motion vector: a clip without windows)."""
        m = np.atleast_2d(np.asarray(motion_vectors, np.float32))
        out = np.zeros((len(m), self.sentence_dim), np.float32)
        has = np.abs(m).sum(axis=1) > 0
        if has.any():
            out[has] = self.session.run(None, {"motion": np.ascontiguousarray(m[has]),
                                               "neighbours": np.array([self.neighbours], np.int64)})[0]
        return out


def load_reference(path: Path, entry: dict, embed_dim: int, sentence_dim: int) -> Reference:
    """The bundle's reference (`entry`: the manifest's `reference`), checked on one vector.

    Raises:
        ValueError: the graph does not map (M, embed_dim) motion vectors to (M, sentence_dim) unit vectors.
    """
    from .providers import cpu_session

    if entry.get("clips") and int(entry["neighbours"]) > int(entry["clips"]):
        raise ValueError(f"{entry['file']}: {entry['neighbours']} neighbours of {entry['clips']} clips")
    session = cpu_session(str(path / entry["file"]), threads=1)  # the CPU always, as the codebook
    reference = Reference(str(entry["id"]), session, int(entry["neighbours"]), float(entry["weight"]),
                          int(entry.get("clips", 0)), sentence_dim)
    probe = np.zeros((1, embed_dim), np.float32)
    probe[0, 0] = 1.0
    got = reference.caption_vectors(probe)
    if got.shape != (1, sentence_dim) or not abs(float(np.linalg.norm(got)) - 1.0) < 1e-3:
        raise ValueError(f"{entry['file']}: a reference maps (M, {embed_dim}) motion vectors to (M, {sentence_dim}) "
                         f"unit caption vectors, not to {got.shape}")
    return reference
