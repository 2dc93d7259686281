"""A model bundle: the two ONNX encoders, the tokenizer and the manifest, run with onnxruntime.

    models/default/
        manifest.json        format version, sizes, window, channel statistics, patch layout,
                             training data and licences, evaluation figures, file hashes
        text_encoder.onnx    input_ids, attention_mask (B, L) -> token_embeddings (B, L, D), token_mask (B, L)
        motion_encoder.onnx  angles (B, T, 29), frame_mask (B, T) -> patch_embeddings (B, N, D), patch_mask (B, N)
        tokenizer.json

Everything the runtime needs to turn a clip or a sentence into embeddings is here; nothing
about the model is hard-coded in the runtime.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import BundleError
from ..hashing import file_sha256
from ..motion import NUM_CHANNELS, NUM_PARTS, PART_NAMES, ChannelStats, Motion, Windows, clip_angles, motion_windows

FORMAT = "motion-search-bundle"
FORMAT_VERSION = 1
FILES = ("manifest.json", "text_encoder.onnx", "motion_encoder.onnx", "tokenizer.json")


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

    def __init__(self, path: Path, manifest: dict, text_session, motion_session, tokenizer, provider_note: str):
        self.path = path
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
        except (OSError, json.JSONDecodeError) as e:
            raise BundleError(f"{path / 'manifest.json'}: unreadable ({e})") from None
        if manifest.get("format") != FORMAT or manifest.get("format_version") != FORMAT_VERSION:
            raise BundleError(f"{path}: bundle format {manifest.get('format')} v{manifest.get('format_version')} "
                              f"is not {FORMAT} v{FORMAT_VERSION}: re-export it with this version")
        if manifest.get("num_channels") != NUM_CHANNELS or manifest.get("parts") != list(PART_NAMES):
            raise BundleError(f"{path}: the bundle was made for a different joint-angle layout")
        if verify:
            for name, digest in manifest.get("files", {}).items():
                if file_sha256(path / name) != digest:
                    raise BundleError(f"{path / name}: contents do not match the manifest (damaged or replaced file)")
        try:
            text, note = make_session(str(path / manifest["text_encoder"]["file"]), device)
            motion, _ = make_session(str(path / manifest["motion_encoder"]["file"]), device)
            tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        except Exception as e:  # onnxruntime/tokenizers raise their own types for broken files
            raise BundleError(f"{path}: cannot load the encoders ({str(e).splitlines()[0][:200]})") from None
        tokenizer.enable_truncation(max_length=int(manifest["max_text_tokens"]))
        tokenizer.no_padding()
        return cls(path, manifest, text, motion, tokenizer, note)

    # ------------------------------------------------------------------------------------- text

    def encode_queries(self, texts: list[str]) -> list[Query]:
        """Encode texts (one batch per call; each query keeps only its real tokens)."""
        if not texts:
            return []
        encs = self.tokenizer.encode_batch(list(texts))
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
        if not text or not text.strip():
            raise ValueError("the query is empty: type what the motion should look like")
        query = self.encode_queries([text])[0]
        if len(query.tokens) == 0:
            raise ValueError(f"the query '{text}' has no words the model knows")
        return query

    # ----------------------------------------------------------------------------------- motion

    def windows(self, motion: Motion) -> Windows:
        """A clip's joint-angle windows (raw degrees/metres), as this bundle cuts them."""
        return motion_windows(clip_angles(motion.positions), self.window, self.hop)

    def encode_windows(self, windows: Windows, batch: int = 32) -> list[np.ndarray]:
        """Unit patch embeddings of each window, only its real patches: (n_k, D) float32, in
        time-major order (patch i covers part i % 14, frames 16 * (i // 14) onwards)."""
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
