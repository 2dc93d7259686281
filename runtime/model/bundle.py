"""A model bundle: the two ONNX encoders, the tokenizer and the manifest, run with onnxruntime.

    models/default/
        manifest.json        format version, sizes, window, channel statistics, patch layout,
                             training data and licences, evaluation figures, file hashes
        text_encoder.onnx    input_ids, attention_mask (B, L) -> token_embeddings (B, L, D), token_mask (B, L)
        motion_encoder.onnx  angles (B, T, 29), frame_mask (B, T) -> patch_embeddings (B, N, D), patch_mask (B, N)
        tokenizer.json
        sentence_encoder.onnx  (optional) input_ids, attention_mask (B, L) -> sentence_embedding (B, S):
                             the pretrained MiniLM, whose similarity between a query and a clip's
                             descriptions is fused with MaxSim (runtime.search.fusion)
        codebook.onnx        (optional) the centroids of search's first stage (runtime.index.cells)
        reference.onnx       (optional, with a sentence encoder) the training clips' motion and caption
                             vectors whose captions a clip's description borrows (runtime/model/reference.py)

Everything the runtime needs to turn a clip or a sentence into embeddings is here; nothing
about the model is hard-coded in the runtime.
"""

from __future__ import annotations

import json
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import BundleError, safe_text
from ..hashing import file_sha256
from ..motion import NUM_CHANNELS, NUM_PARTS, PART_NAMES, ChannelStats, Motion, Windows, clip_angles, motion_windows
from .reference import load_reference

FORMAT = "motion-search-bundle"
FORMAT_VERSION = 1
FILES = ("manifest.json", "text_encoder.onnx", "motion_encoder.onnx", "tokenizer.json")
SENTENCE_CACHE = 20_000  # texts (1.5 KB each): see Bundle._sentence_cache
SPECIAL_PIECES = frozenset({"[CLS]", "[SEP]", "[UNK]", "[PAD]", "[MASK]"})


def default_bundle_path() -> Path:
    """MOTION_SEARCH_BUNDLE if set, else the repository's committed models/default."""
    env = os.environ.get("MOTION_SEARCH_BUNDLE")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "models" / "default"


@dataclass(frozen=True)
class Query:
    """An encoded search text.

    Attributes:
        text: as typed.
        tokens: (L, D) float32 unit embeddings of the real tokens (no [CLS]/[SEP]/padding).
        pieces: the word piece of each token ("wav", "##es").
        words: the words of the text as typed ("waves", "left").
        word_of_token: (L,) index into `words` for each token.
    """

    text: str
    tokens: np.ndarray
    pieces: list[str]
    words: list[str]
    word_of_token: np.ndarray


class Bundle:
    """Loaded encoders. Use `Bundle.load(path, device)`."""

    def __init__(self, path: Path, manifest: dict, text_session, motion_session, tokenizer, provider_note: str,
                 sentence_session=None, codebook: np.ndarray | None = None, codebook_session=None, reference=None):
        self.path = path
        # (C, D) float32 centroids of search's first stage (runtime.index.cells); None: a bundle
        # without one (searches use the per-body-part first stage)
        self.codebook = codebook
        self._codebook_session = codebook_session
        self.codebook_id: str | None = str(manifest["codebook"]["id"]) if codebook is not None else None
        self.sentence_session = sentence_session  # None: the bundle has no sentence encoder (no fusion)
        self.manifest = manifest
        self.text_session = text_session
        self.motion_session = motion_session
        self.tokenizer = tokenizer
        self.provider_note = provider_note
        self.provider = motion_session.get_providers()[0]
        self.stats = ChannelStats.from_json(manifest["channel_stats"])
        self.embed_dim = int(manifest["embed_dim"])
        self.window = int(manifest["window"])
        self.hop = int(manifest["hop"])
        self.fps = float(manifest["fps"])
        self.patch_frames = int(manifest["patch_frames"])
        self.max_text_tokens = int(manifest["max_text_tokens"])
        self.score = manifest.get("score", "maxsim")
        self.model_id = manifest["model_id"]
        # int8 graphs quantize activations per call: run them one item per call (see encode_queries)
        self.text_quantized = str(manifest.get("text_encoder", {}).get("variant", "fp32")).startswith("int")
        self.motion_quantized = str(manifest.get("motion_encoder", {}).get("variant", "fp32")).startswith("int")
        sentence = manifest.get("sentence_encoder") if sentence_session is not None else None
        # the training clips' captions a clip's description vector borrows (runtime/model/reference.py)
        self.reference = reference if sentence else None
        # what made an index's description vectors: the sentence encoder and, with it, the reference
        self.sentence_id: str | None = (str(sentence["id"]) + (f"+{self.reference.id}" if self.reference else "")) \
            if sentence else None
        self.sentence_dim = int(sentence["dim"]) if sentence else 0
        self._sentence_tokenizer = None
        if sentence:  # the same vocabulary, without the query length limit
            from tokenizers import Tokenizer

            self._sentence_tokenizer = Tokenizer.from_str(tokenizer.to_str())
            self._sentence_tokenizer.enable_truncation(max_length=int(sentence.get("max_tokens", 128)))
            self._sentence_tokenizer.no_padding()
        # text -> unit vector: the describer says the same few hundred sentences of many clips (of
        # 60 Bandai-Namco clips' 540 texts, 172 differ), so indexing encodes each text once
        self._sentence_cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._sentence_lock = threading.Lock()

    @classmethod
    def load(cls, path: str | os.PathLike | None = None, device: str = "auto", verify: bool = True) -> "Bundle":
        """Open a bundle folder.

        Raises:
            BundleError: a file is missing or altered, or the format is unknown.
        """
        from tokenizers import Tokenizer

        from .providers import make_session

        path = Path(path) if path is not None else default_bundle_path()
        if not path.is_dir():
            raise BundleError(f"{path}: model bundle not found (a folder with manifest.json and two .onnx files)")
        missing = [f for f in FILES if not (path / f).is_file()]
        if missing:
            raise BundleError(f"{path}: model bundle is incomplete: missing {', '.join(missing)}")
        try:
            manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
            raise BundleError(f"{path / 'manifest.json'}: unreadable ({safe_text(e, 200)})") from None
        if not isinstance(manifest, dict):
            raise BundleError(f"{path / 'manifest.json'}: not a bundle manifest (a JSON object)")
        if manifest.get("format") != FORMAT or manifest.get("format_version") != FORMAT_VERSION:
            raise BundleError(f"{path}: bundle format {safe_text(manifest.get('format'), 80)} "
                              f"v{safe_text(manifest.get('format_version'), 20)} "
                              f"is not {FORMAT} v{FORMAT_VERSION}: re-export it with this version")
        if manifest.get("num_channels") != NUM_CHANNELS or manifest.get("parts") != list(PART_NAMES):
            raise BundleError(f"{path}: the bundle was made for a different joint-angle layout")
        files = _checked_manifest(path, manifest)
        if verify:
            for name, digest in files.items():
                if file_sha256(path / name) != digest:
                    raise BundleError(f"{path / name}: contents do not match the manifest (damaged or replaced file)")
        try:
            # the text encoder's threads sleep as soon as a query is encoded: spinning, they took
            # a core from the search that follows (bench/bench_fusion.py)
            text, note = make_session(str(path / manifest["text_encoder"]["file"]), device, spinning=False)
            motion, _ = make_session(str(path / manifest["motion_encoder"]["file"]), device)  # names checked above
            tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
            # one thread that sleeps between calls: fused search runs it beside MaxSim's stages
            # (two threads that spin slowed both: bench/bench_fusion.py)
            sentence = make_session(str(path / manifest["sentence_encoder"]["file"]), device, threads=1,
                                    spinning=False)[0] if manifest.get("sentence_encoder") else None
            codebook, codebook_session = _load_codebook(path, manifest)
            reference = load_reference(path, manifest["reference"], int(manifest["embed_dim"]),
                                       int(manifest["sentence_encoder"]["dim"])) if manifest.get("reference") else None
        except Exception as e:  # onnxruntime/tokenizers raise their own types for broken files
            raise BundleError(f"{path}: cannot load the encoders ({str(e).splitlines()[0][:200]})") from None
        tokenizer.enable_truncation(max_length=int(manifest["max_text_tokens"]))
        tokenizer.no_padding()
        return cls(path, manifest, text, motion, tokenizer, note, sentence, codebook, codebook_session, reference)

    # ------------------------------------------------------------------------------------- text

    def encode_queries(self, texts: list[str]) -> list[Query]:
        """Encode texts (each query keeps only its real tokens).

        A query's tokens do not depend on the other texts of the call: an int8 encoder quantizes
        its activations with one scale per input tensor (onnxruntime's DynamicQuantizeLinear), so
        a batch would give a sentence other tokens than it has alone (cosine down to 0.98), and an
        evaluation would see other queries than `search()` does. Such an encoder runs one text per
        call; a float one runs the batch (batch-invariant to float rounding).
        """
        if not texts:
            return []
        encs = self.tokenizer.encode_batch(list(texts))
        if self.text_quantized and len(encs) > 1:
            out = []
            for text, e in zip(texts, encs):
                out += self._encode_texts([text], [e])
            return out
        return self._encode_texts(texts, encs)

    def _encode_texts(self, texts: list[str], encs) -> list[Query]:
        length = max(len(e.ids) for e in encs)
        ids = np.zeros((len(encs), length), np.int64)
        mask = np.zeros((len(encs), length), np.int64)
        for k, e in enumerate(encs):
            ids[k, : len(e.ids)] = e.ids
            mask[k, : len(e.ids)] = 1
        emb, tok_mask = self.text_session.run(None, {"input_ids": ids, "attention_mask": mask})
        out = []
        for k, (text, e) in enumerate(zip(texts, encs)):
            keep = np.flatnonzero(tok_mask[k].astype(bool))
            words, word_of_token, pieces = [], [], []
            word_index: dict[int, int] = {}
            for t in keep:
                wid = e.word_ids[t]
                if wid not in word_index:
                    spans = [e.offsets[i] for i in range(len(e.ids)) if e.word_ids[i] == wid]
                    word_index[wid] = len(words)
                    words.append(text[spans[0][0]: spans[-1][1]])
                word_of_token.append(word_index[wid])
                pieces.append(e.tokens[t])
            out.append(Query(text, emb[k, keep].astype(np.float32), pieces, words, np.array(word_of_token, np.int64)))
        return out

    def encode_query(self, text: str) -> Query:
        """One search text, encoded.

        Raises:
            ValueError: the text is empty, or has no word the tokenizer knows (emoji or symbols
                only become [UNK] and punctuation, which would rank clips on nothing).
        """
        if not text or not text.strip():
            raise ValueError("the query is empty: type what the motion should look like")
        query = self.encode_queries([text])[0]
        if not any(any(ch.isalnum() for ch in p) and p not in SPECIAL_PIECES for p in query.pieces):
            raise ValueError(f"the query '{safe_text(text, 200)}' has no words the model knows: "
                             "describe the motion in words")
        return query

    def forget_sentences(self) -> None:
        """Empty the cache of sentence vectors (encode_sentences): benchmarks time a new query's cost."""
        with self._sentence_lock:
            self._sentence_cache.clear()

    def codebook_cosines(self, tokens: np.ndarray) -> np.ndarray:
        """(T, C) float32: each query token's cosine with every centroid of the codebook, through the
        bundle's codebook graph (onnxruntime on one CPU thread: 0.8 ms p50 for a query and 16,384
        centroids where numpy's product took 1.2-6 ms, depending on load; the same values:
        bench/bench_cells.py)."""
        tokens = np.ascontiguousarray(tokens, np.float32)
        if self._codebook_session is None:
            return tokens @ self.codebook.T
        return self._codebook_session.run(None, {"tokens": tokens})[0]

    def encode_sentences(self, texts: list[str]) -> np.ndarray:
        """(N, sentence_dim) float32 unit sentence embeddings from the pretrained sentence encoder,
        one text per call (int8: batch-invariant, as `encode_queries`), so that a text met before
        is taken from a cache of the last SENTENCE_CACHE texts (the same vector it had then).

        Raises:
            BundleError: the bundle has no sentence encoder.
        """
        if self.sentence_session is None:
            raise BundleError(f"{self.path}: this bundle has no sentence encoder (sentence_encoder.onnx)")
        out = np.zeros((len(texts), self.sentence_dim), np.float32)
        cache = self._sentence_cache
        for k, text in enumerate(texts):
            with self._sentence_lock:  # (fused search encodes on a thread of its own)
                vector = cache.get(text)
                if vector is not None:
                    cache.move_to_end(text)
            if vector is None:
                ids = np.array([self._sentence_tokenizer.encode(text).ids], np.int64)
                vector = self.sentence_session.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids)})[0][0]
                with self._sentence_lock:
                    cache[text] = vector
                    while len(cache) > SENTENCE_CACHE:
                        cache.popitem(last=False)
            out[k] = vector
        return out

    # ----------------------------------------------------------------------------------- motion

    def windows(self, motion: Motion) -> Windows:
        """A clip's joint-angle windows (raw degrees/metres), as this bundle cuts them."""
        return motion_windows(clip_angles(motion.positions), self.window, self.hop)

    def encode_windows(self, windows: Windows, batch: int = 32) -> list[np.ndarray]:
        """Unit patch embeddings of each window, only its real patches: (n_k, D) float32, in
        time-major order (patch i covers part i % 14, frames 16 * (i // 14) onwards).

        As for texts (see `encode_queries`), an int8 motion encoder runs one window per call, so
        that a window's patches do not depend on the windows it is encoded with (about 1.7 times
        the encoding time on a 2-core CPU)."""
        if self.motion_quantized:
            batch = 1
        z = self.stats.normalize(windows.angles, windows.mask)
        out: list[np.ndarray] = []
        order = np.argsort(windows.length)  # similar lengths together: less padding to compute
        results: dict[int, np.ndarray] = {}
        for s in range(0, len(order), batch):
            idx = order[s: s + batch]
            cols = int(np.ceil(windows.length[idx].max() / self.patch_frames))
            t = cols * self.patch_frames
            emb, pmask = self.motion_session.run(None, {"angles": z[idx, :t], "frame_mask": windows.mask[idx, :t]})
            for j, k in enumerate(idx):
                results[int(k)] = emb[j, pmask[j].astype(bool)].astype(np.float32)
        out = [results[k] for k in range(len(windows.length))]
        return out

    def encode_motion(self, motion: Motion) -> tuple[Windows, list[np.ndarray]]:
        w = self.windows(motion)
        return w, self.encode_windows(w)

    # ------------------------------------------------------------------------------------ layout

    def patch_part(self, patch: np.ndarray | int) -> np.ndarray:
        """Body-part index (into runtime.motion.features.PART_NAMES) of patch indices."""
        return np.asarray(patch) % NUM_PARTS

    def patch_frames_of(self, patch: np.ndarray | int) -> np.ndarray:
        """First frame (20 fps, within the window) covered by patch indices."""
        return (np.asarray(patch) // NUM_PARTS) * self.patch_frames


def _load_codebook(path: Path, manifest: dict) -> tuple[np.ndarray | None, object]:
    """(C, D) float32 centroids from the bundle's codebook graph (exporter/make_codebook.py): its
    output for the D unit vectors is the centroids, column by column (exact: a product with 1s);
    and the graph's session, which gives a query's tokens their cosines with every centroid."""
    entry = manifest.get("codebook")
    if not entry:
        return None, None
    from .providers import cpu_session

    dim = int(manifest["embed_dim"])
    session = cpu_session(str(path / entry["file"]), threads=1)  # the CPU always: no TF32 rounding
    codebook = session.run(None, {"tokens": np.eye(dim, dtype=np.float32)})[0].T
    if codebook.ndim != 2 or codebook.shape[1] != dim or not 2 <= len(codebook) <= 65536:
        raise ValueError(f"{entry['file']}: a codebook is (cells <= 65536, {dim}), not {codebook.shape}")
    return np.ascontiguousarray(codebook, np.float32), session


def _checked_manifest(path: Path, manifest: dict) -> dict[str, str]:
    """The manifest's `files` ({name: sha256}) after checking that it lists every file the bundle
    loads, each a plain name inside `path`, and that the sizes and rates are usable numbers.

    Raises:
        BundleError: naming the manifest and the first value that is wrong.
    """
    where = path / "manifest.json"
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        raise BundleError(f"{where}: no `files` list with the SHA-256 of each file: re-export the bundle")
    for name, digest in files.items():
        if not isinstance(digest, str) or len(digest) != 64:
            raise BundleError(f"{where}: `files` entry {safe_text(name, 100)!r} has no SHA-256")
        _inside(path, name, where)
    loaded = []
    for key in ("text_encoder", "motion_encoder"):
        entry = manifest.get(key)
        if not isinstance(entry, dict) or not isinstance(entry.get("file"), str):
            raise BundleError(f"{where}: `{key}.file` is missing")
        loaded.append(entry["file"])
    sentence = manifest.get("sentence_encoder")
    if sentence is not None:
        if not isinstance(sentence, dict) or not isinstance(sentence.get("file"), str) or \
                not isinstance(sentence.get("id"), str) or not isinstance(sentence.get("dim"), int):
            raise BundleError(f"{where}: `sentence_encoder` needs a `file`, an `id` and a `dim`")
        loaded.append(sentence["file"])
    codebook = manifest.get("codebook")
    if codebook is not None:
        if not isinstance(codebook, dict) or not isinstance(codebook.get("file"), str) or \
                not isinstance(codebook.get("id"), str):
            raise BundleError(f"{where}: `codebook` needs a `file` and an `id`")
        loaded.append(codebook["file"])
    reference = manifest.get("reference")
    if reference is not None:
        if sentence is None or not isinstance(reference, dict) or not isinstance(reference.get("file"), str) or \
                not isinstance(reference.get("id"), str) or not isinstance(reference.get("neighbours"), int) or \
                isinstance(reference.get("neighbours"), bool) or not 1 <= reference["neighbours"] <= 1000 or \
                not isinstance(reference.get("weight"), (int, float)) or not 0 <= reference["weight"] <= 100:
            raise BundleError(f"{where}: `reference` needs a sentence encoder, a `file`, an `id`, `neighbours` "
                              "(1 to 1000) and a `weight` (0 to 100)")
        loaded.append(reference["file"])
    loaded.append("tokenizer.json")
    for name in loaded:
        _inside(path, name, where)
        if name not in files:
            raise BundleError(f"{where}: {safe_text(name, 100)} is loaded but not listed (with its hash) in `files`")
    ints = {"embed_dim": (1, 1 << 16), "window": (1, 1 << 20), "patch_frames": (1, 1 << 10),
            "max_text_tokens": (2, 1 << 16)}
    for key, (low, high) in ints.items():
        value = manifest.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise BundleError(f"{where}: `{key}` must be a whole number from {low} to {high}, not {value!r}")
    hop, window, patch = manifest.get("hop"), manifest["window"], manifest["patch_frames"]
    if not isinstance(hop, int) or isinstance(hop, bool) or not 1 <= hop <= window:
        raise BundleError(f"{where}: `hop` must be a whole number from 1 to the window ({window}), not {hop!r}")
    if window % patch:
        raise BundleError(f"{where}: `window` ({window}) must be a multiple of `patch_frames` ({patch})")
    fps = manifest.get("fps")
    if not isinstance(fps, (int, float)) or isinstance(fps, bool) or not 1.0 <= fps <= 1000.0:
        raise BundleError(f"{where}: `fps` must be a frame rate from 1 to 1000, not {fps!r}")
    if not isinstance(manifest.get("model_id"), str) or not manifest["model_id"]:
        raise BundleError(f"{where}: `model_id` is missing")
    try:
        ChannelStats.from_json(manifest.get("channel_stats") or {})
    except (ValueError, TypeError, KeyError) as e:
        raise BundleError(f"{where}: `channel_stats`: {safe_text(e, 200)}") from None
    return files


def _inside(path: Path, name: object, where: Path) -> None:
    """`name` is a file directly in the bundle folder (no folders, no '..', no link out of it)."""
    if not isinstance(name, str) or not name or Path(name).name != name or name in (".", ".."):
        raise BundleError(f"{where}: {safe_text(name, 100)!r} is not a file name in the bundle folder")
    real = (path / name).resolve()
    if real.parent != path.resolve() or not real.is_file():
        raise BundleError(f"{where}: {safe_text(name, 100)} is not a file inside {path}")
