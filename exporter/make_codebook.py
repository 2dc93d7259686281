"""Fit a bundle's codebook: the cells of search's first stage (runtime/index/cells.py).

    ./dev py exporter/make_codebook.py models/default                # from .cache/index/demo (./dev demo)
    ./dev py exporter/make_codebook.py models/default --cells 4096 --index PATH    # another size, another index

Spherical k-means on the patches of the clips the model was trained on (training/splits.json's
train part), read from an index built with this bundle: a user's library is never among them, and
the benchmark libraries (composed from the whole default library) are mostly other windows. The
codebook goes into the bundle as the encoders' parameters do, an ONNX graph (`codebook.onnx`: token
vectors (N, D) -> their cosines with every centroid (N, C), the centroids a float16 initializer;
runtime.model reads them back through onnxruntime) with its hash in manifest.json's `files` and a
`codebook` entry (file, id, cells, what it was fitted on, the mean cosine of a patch to its
centroid). The bundle's `model_id` is unchanged: the codebook does not change a patch or a token;
an index records the codebook `id` that made its cells, and an index whose cells another
codebook made gets them again at its next update.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from exporter.onnx_target import model_from_graph  # noqa: E402
from runtime.hashing import file_sha256  # noqa: E402
from runtime.index import LibraryIndex, codebook_id, fit_codebook  # noqa: E402
from runtime.model import Bundle  # noqa: E402
from training.data import SPLITS_FILE  # noqa: E402

FILE = "codebook.onnx"
CELLS = 16384  # 4,096 needed twice the candidates for the same recall (docs/BENCHMARKS.md)
ITERATIONS = 6


def split_key(path: str) -> str:
    """The name training/splits.json gives the clip of an index entry's file."""
    stem = Path(path).stem
    if stem.startswith("dataset-"):
        return f"bandai-{stem.split('_')[0].split('-')[1]}/{stem}"
    return f"cmu/{stem}"


def training_patches(index: LibraryIndex) -> tuple[np.ndarray, int]:
    """(unit float32 patches of every window of a training-split clip, how many clips)."""
    splits = json.loads(Path(SPLITS_FILE).read_text())
    train = {name for part in splits.values() for name in part["train"]}
    clips = {i for i, c in enumerate(index.clips) if c.status == "ok" and split_key(c.path) in train}
    windows = np.flatnonzero(np.isin(index.windows[:, 0], list(clips)))
    patches, _ = index.window_patches(windows)
    patches = patches / np.maximum(np.linalg.norm(patches, axis=1, keepdims=True), 1e-12)
    return patches.astype(np.float32), len(clips)


def export(bundle_dir: str, index_dir: str, cells: int = CELLS, iterations: int = ITERATIONS) -> dict:
    out = Path(bundle_dir)
    bundle = Bundle.load(out)
    index = LibraryIndex.open(index_dir, bundle)
    patches, clips = training_patches(index)
    t = time.perf_counter()
    codebook = fit_codebook(patches, cells, iterations).astype(np.float16)
    as_stored = codebook.astype(np.float32)
    fit = float(np.mean([np.max(patches[s: s + 8192] @ as_stored.T, axis=1).mean() for s in range(0, len(patches), 8192)]))
    print(f"{cells} cells fitted on {len(patches)} patches of {clips} training clips in "
          f"{time.perf_counter() - t:.0f} s; mean cosine of a patch to its centroid {fit:.4f}")
    return save_codebook(out, codebook, {
        "fitted_on": f"{len(patches)} patches of the {clips} training-split clips (training/splits.json)",
        "method": f"spherical k-means, {iterations} iterations, seed 0", "mean_cosine_to_centroid": round(fit, 4)})


def codebook_graph(codebook: np.ndarray):
    """The ONNX model of a codebook: input `tokens` (N, D) float32 -> `cosines` (N, C), the centroids
    a float16 initializer (8 MB for 16,384 x 256)."""
    from onnx import TensorProto, helper, numpy_helper

    nodes = [helper.make_node("Cast", ["centroids"], ["centroids32"], to=TensorProto.FLOAT),
             helper.make_node("Transpose", ["centroids32"], ["columns"], perm=[1, 0]),
             helper.make_node("MatMul", ["tokens", "columns"], ["cosines"])]
    graph = helper.make_graph(
        nodes, "codebook", [helper.make_tensor_value_info("tokens", TensorProto.FLOAT, ["N", codebook.shape[1]])],
        [helper.make_tensor_value_info("cosines", TensorProto.FLOAT, ["N", codebook.shape[0]])],
        initializer=[numpy_helper.from_array(np.asarray(codebook, np.float16), "centroids")])
    return model_from_graph(graph, "motion-search exporter/make_codebook.py")


def save_codebook(out: Path, codebook: np.ndarray, about: dict) -> dict:
    """Write `codebook` (C, D) into the bundle at `out` (graph, hash, manifest entry), checked by
    reading it back as the runtime does."""
    import onnx

    codebook = np.asarray(codebook, np.float16)
    model = codebook_graph(codebook)
    onnx.save(model, out / FILE)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    manifest["files"].pop(manifest.get("codebook", {}).get("file", FILE), None)  # an older codebook's file
    manifest["codebook"] = dict(about, file=FILE, id=codebook_id(codebook), cells=len(codebook), dtype="float16")
    manifest["files"][FILE] = file_sha256(out / FILE)
    tmp = out / "manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=1) + "\n")
    os.replace(tmp, out / "manifest.json")
    if not np.array_equal(Bundle.load(out).codebook, codebook.astype(np.float32)):
        raise SystemExit(f"{out / FILE}: the codebook read back differs from the one written")
    return manifest["codebook"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("bundle", help="bundle folder to add the codebook to")
    parser.add_argument("--index", default=".cache/index/demo", help="an index of the default library built with it")
    parser.add_argument("--cells", type=int, default=CELLS)
    parser.add_argument("--iterations", type=int, default=ITERATIONS)
    args = parser.parse_args(argv)
    print(export(args.bundle, args.index, args.cells, args.iterations))


if __name__ == "__main__":
    main()
