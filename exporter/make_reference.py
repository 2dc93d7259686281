"""Add a reference to a bundle: the training clips' motion vectors and what people said of them, whose
captions a library clip's description borrows from its nearest ones (runtime/model/reference.py).

    ./dev py exporter/make_reference.py models/default
    ./dev py exporter/make_reference.py models/default --neighbours 3 --weight 1.0

For every training-split clip (training/splits.json: Bandai-Namco's training clips and one
conversion of each CMU training trial; never a validation, test or CMU eval-only clip), its motion
vector as an index makes it (the unit mean of its windows' pooled patches, runtime.index.clip_motion_vectors)
and the unit mean of its captions' sentence vectors by the bundle's sentence encoder: CMU's
description of the trial; for Bandai-Namco, the plain caption of its content and style labels
and three phrasings of them (training/captions.py, seeded by the clip). Writes `reference.onnx`
(the two float16 matrices as constants of a graph that finds each motion vector's nearest
training clips and returns the unit mean of their caption vectors) and the manifest's
`reference` (file, id, clips, neighbours, weight) and hash. The bundle's `model_id` does not change; an
index describes its clips again at its next update (the reference's id is part of what the
index records as its description vectors' maker). `--neighbours` and `--weight` were chosen on
the free-form validation queries (`./dev py training/fusion_eval.py models/default --sweep`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import zlib
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

import training  # noqa: F401,E402
from runtime.hashing import file_sha256  # noqa: E402
from runtime.index import motion_vector  # noqa: E402
from runtime.model import Bundle  # noqa: E402
from runtime.motion import motion_windows  # noqa: E402

FILE = "reference.onnx"
NEIGHBOURS = 3  # chosen on free-form val (training/fusion_eval.py --sweep)
WEIGHT = 1.0
PHRASINGS = 3  # Bandai-Namco: the plain label caption and this many phrasings of it


def reference_clips() -> list:
    """The training split's clips: Bandai-Namco's, and one conversion of each CMU trial."""
    from training.data import bandai_clips, cmu_clips, one_per_group, split_clips

    train = split_clips(bandai_clips() + cmu_clips(), "train")
    return sorted([c for c in train if c.source == "bandai"], key=lambda c: c.key) + \
        one_per_group([c for c in train if c.source == "cmu"])


def clip_captions(clip) -> list[str]:
    """What people said of a training clip: CMU's description, or Bandai-Namco's labels in words."""
    from training.captions import canonical, compose

    if clip.labels:
        rng = random.Random(zlib.crc32(clip.key.encode()))
        return [canonical(*clip.labels)] + [compose(*clip.labels, rng) for _ in range(PHRASINGS)]
    return list(clip.captions)


def angles_motion_vector(bundle: Bundle, angles: np.ndarray) -> np.ndarray | None:
    """A clip's motion vector from its joint angles, as an index makes it (None: no windows)."""
    return motion_vector(bundle.encode_windows(motion_windows(angles, bundle.window, bundle.hop)))


def caption_vector(bundle: Bundle, captions: list[str]) -> np.ndarray:
    v = bundle.encode_sentences(captions).mean(axis=0)
    return v / max(float(np.linalg.norm(v)), 1e-9)


def reference_graph(motion: np.ndarray, captions: np.ndarray):
    """The ONNX model of a reference: inputs `motion` (M, D) unit vectors and `neighbours` (1,) int64 ->
    `captions` (M, S), the unit mean caption vector of each one's `neighbours` nearest rows of `motion`
    by cosine; both matrices float16 initializers."""
    from onnx import TensorProto, helper, numpy_helper

    from exporter.onnx_target import model_from_graph

    consts = [numpy_helper.from_array(np.asarray(motion, np.float16), "clip_motion"),
              numpy_helper.from_array(np.asarray(captions, np.float16), "clip_captions"),
              numpy_helper.from_array(np.array([1], np.int64), "axis_1"),
              numpy_helper.from_array(np.array(1e-9, np.float32), "tiny")]
    nodes = [helper.make_node("Cast", ["clip_motion"], ["clip_motion32"], to=TensorProto.FLOAT),
             helper.make_node("Transpose", ["clip_motion32"], ["columns"], perm=[1, 0]),
             helper.make_node("MatMul", ["motion", "columns"], ["cosines"]),
             helper.make_node("TopK", ["cosines", "neighbours"], ["nearest_cosines", "nearest"], axis=1),
             helper.make_node("Cast", ["clip_captions"], ["clip_captions32"], to=TensorProto.FLOAT),
             helper.make_node("Gather", ["clip_captions32", "nearest"], ["their_captions"], axis=0),
             helper.make_node("ReduceMean", ["their_captions", "axis_1"], ["mean"], keepdims=0),
             helper.make_node("ReduceL2", ["mean", "axis_1"], ["length"], keepdims=1),
             helper.make_node("Max", ["length", "tiny"], ["safe_length"]),
             helper.make_node("Div", ["mean", "safe_length"], ["captions"])]
    graph = helper.make_graph(
        nodes, "reference", [helper.make_tensor_value_info("motion", TensorProto.FLOAT, ["M", motion.shape[1]]),
                             helper.make_tensor_value_info("neighbours", TensorProto.INT64, [1])],
        [helper.make_tensor_value_info("captions", TensorProto.FLOAT, ["M", captions.shape[1]])], initializer=consts)
    return model_from_graph(graph, "motion-search exporter/make_reference.py")


def export(bundle_dir: str | Path, neighbours: int = NEIGHBOURS, weight: float = WEIGHT, log=print) -> dict:
    from exporter.to_onnx import write_manifest
    from training.data import load_features

    out = Path(bundle_dir)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    if manifest.get("reference"):  # an older reference is replaced (and not needed to make this one)
        old = manifest.pop("reference")["file"]
        manifest["files"].pop(old, None)
        write_manifest(out, manifest)
        (out / old).unlink(missing_ok=True)
    bundle = Bundle.load(out, device="cpu")
    if bundle.sentence_session is None:
        raise SystemExit(f"{out}: the bundle has no sentence encoder (exporter/sentence_encoder.py first)")
    clips = reference_clips()
    features = load_features(clips, "all", log=log)
    keys, motion, captions = [], [], []
    for k, clip in enumerate(clips):
        if clip.key not in features:
            continue
        v = angles_motion_vector(bundle, features[clip.key])
        if v is None or not np.abs(v).sum():
            continue
        keys.append(clip.key)
        motion.append(v)
        captions.append(caption_vector(bundle, clip_captions(clip)))
        if k % 500 == 0:
            log(f"  {k} / {len(clips)} clips")
    import onnx

    onnx.save(reference_graph(np.stack(motion), np.stack(captions)), out / FILE)
    digest = file_sha256(out / FILE)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    manifest["reference"] = {
        "file": FILE, "id": hashlib.sha256(f"{digest}:{neighbours}:{weight}".encode()).hexdigest()[:16],
        "clips": len(keys), "neighbours": int(neighbours), "weight": float(weight),
        "captions": "CMU descriptions; Bandai-Namco content and style labels in words (training/captions.py)",
        "clips_from": "the training split (training/splits.json): no validation, test or CMU eval-only clip",
        "chosen_on": "free-form validation queries (training/fusion_eval.py --sweep)"}
    manifest.setdefault("files", {})[FILE] = digest
    write_manifest(out, manifest)
    Bundle.load(out, device="cpu")  # read back as the runtime reads it
    log(f"wrote {out / FILE}: {len(keys)} training clips, {(out / FILE).stat().st_size / 1e6:.1f} MB; "
        f"{neighbours} neighbours, weight {weight}")
    return manifest["reference"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("bundle", nargs="?", default="models/default")
    parser.add_argument("--neighbours", type=int, default=NEIGHBOURS)
    parser.add_argument("--weight", type=float, default=WEIGHT)
    args = parser.parse_args(argv)
    export(args.bundle, args.neighbours, args.weight)
    return 0


if __name__ == "__main__":
    sys.exit(main())
