"""Command line for the runtime (no torch):

    python -m runtime index DIR [DIR ...] [--index PATH]     build or update a library index
    python -m runtime search "TEXT" [--index PATH] [--top K] [--json] [--queries FILE] [--no-fusion]
    python -m runtime search --like FILE [--start F --end F] [--top K] [--json] [--no-fusion]
                                                             clips whose motion is alike FILE's
    python -m runtime search --like-video FILM [--start S --end S] [--top K] [--json] [--no-fusion]
                                                             clips whose motion is alike the filmed person's
    python -m runtime video FILM --out OUT.bvh [--start S --end S] [--onto TARGET.bvh]
                                                             the filmed person's motion, as BVH
    python -m runtime explain "TEXT" CLIP --png OUT           why CLIP matches TEXT, as a picture
    python -m runtime describe CLIP [--start F --end F] [--json] [--captions N] [--seed S]
                                    [--rank SENTENCES.txt]   what CLIP does, in words
    python -m runtime retarget CLIP --onto TARGET.bvh --out OUT.bvh [--start F --end F]
                                                             CLIP on TARGET's skeleton, as BVH
    python -m runtime demo                                   all of it on the default library
    python -m runtime index DIR --store STORE [--library NAME]  upload a library to a shared store (Qdrant)
    python -m runtime search "TEXT" --store STORE [--library NAME] [--mount NAME=DIR]
                                                             search a shared store (also with --like)

The model bundle is models/default unless --bundle (or MOTION_SEARCH_BUNDLE) says otherwise;
the index lives in <cache>/index unless --index (or MOTION_SEARCH_INDEX) says otherwise.
Search hits carry each clip's stored one-sentence description (on a second line, or "description"
in JSON). `describe` needs no model (runtime.describe): its frames, --start/--end (inclusive) and
the events' frames it prints, are frames of CLIP itself, as a DCC or a search hit shows them;
--rank scores your sentences (one per line) and the describer's with the model, best first.
`video` and `--like-video` need video support (mediapipe: `./dev setup-video`, docs/VIDEO.md);
their --start/--end are seconds of the film.
A STORE is a shared library in Qdrant (qdrant+http(s)://HOST:6333/COLLECTION, qdrant+edge:///FOLDER,
qdrant+local:///FOLDER/COLLECTION, or a JSON config file naming one: runtime/studio, docs/STUDIO.md); its
API key comes from the environment (MOTION_SEARCH_QDRANT_API_KEY), never from the command line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from .errors import MotionSearchError, safe_text


def default_index_path() -> Path:
    from .shared_data import cache_dir

    return Path(os.environ.get("MOTION_SEARCH_INDEX") or cache_dir() / "index")


def _bundle(args):
    from .model import Bundle

    bundle = Bundle.load(args.bundle, device=args.device)
    print(f"model {bundle.model_id} ({bundle.path}); inference on {bundle.provider_note}", file=sys.stderr)
    return bundle


def _update(index_path: Path, sources: list[str], bundle, fps_of=None, jobs: int = 1, codec: str = "int8",
            rig_overrides=None, converter=None, wait_s: float = 0.0, rebuild: bool = False):
    from .index import LibraryIndex
    from .progress import Progress

    index = LibraryIndex.open_or_create(index_path, bundle, codec, replace_stale=True, rebuild=rebuild)
    if index.replaced:
        why = "rebuilding it" if rebuild else "built by another model or format"
        print(f"index {safe_text(index_path)}: {why} ({safe_text(index.replaced)}): encoding the library again",
              file=sys.stderr)
    bar: Progress | None = None

    def progress(done: int, total: int, note: str) -> None:
        nonlocal bar
        label = "converting" if note.startswith("converting ") else \
            "search cells" if note.startswith("cells ") else "indexing"
        if bar is None or bar.label != label:  # cells of an older index, Blender's conversions, then the encoding
            if bar is not None:
                bar.close()
            bar = Progress(total, label)
        bar.update(1, note)

    try:
        report = index.update(sources, bundle, fps_of=fps_of, progress=progress, workers=jobs,
                              rig_overrides=rig_overrides, converter=converter, wait_s=wait_s)
    finally:
        if bar is not None:
            bar.close()
    print(f"index {safe_text(index_path)}: {report.summary()}; {len(index.ok_clips)} clips, "
          f"{index.num_windows} windows")
    for ident, error in report.failed:
        print(f"  failed: {safe_text(error)}")
    for ident, note in report.unsure:
        print(f"  indexed, but check its bone map: {safe_text(ident)}: {safe_text(note)}")
    _print_not_read(report.not_read, index_path)
    return index, report


def _print_not_read(not_read: list[tuple[str, str]], index_path: Path) -> None:
    """Entries that could not be read (links, special files, folders, no Blender) one by one; other
    files and hidden ones counted and named (all of them are in report.json)."""
    from .library import HIDDEN, NOT_MOTION, other_files_text

    others = [p for p, why in not_read if why == NOT_MOTION]
    hidden = [p for p, why in not_read if why == HIDDEN]
    for path, why in not_read:
        if why not in (NOT_MOTION, HIDDEN):
            print(f"  {safe_text(why)}: {safe_text(path)}")
    if others:
        print(f"  {safe_text(other_files_text(others))} (all in {safe_text(index_path / 'report.json')})")
    if hidden:
        names = ", ".join(os.path.basename(p) for p in hidden[:10]) + (", ..." if len(hidden) > 10 else "")
        print(f"  {len(hidden)} hidden file{'s' if len(hidden) != 1 else ''} or folders skipped: {safe_text(names)}")


def cmd_index(args) -> int:
    from .io import find_converter
    from .motion import load_mapping_file

    fps = (lambda _path: args.fps) if args.fps else None
    overrides = load_mapping_file(args.rig_map) if args.rig_map else None
    converter = find_converter(args.blender)
    if converter is not None:
        print(f"FBX, glTF and .blend files are read by {converter}", file=sys.stderr)
    if args.store:  # a shared library: encoded into a local index first, then what changed is uploaded
        from .studio import index_into_store

        return index_into_store(args, _bundle(args), _update, fps, overrides, converter)
    _update(Path(args.index), args.folders, _bundle(args), fps, args.jobs, args.codec, overrides, converter,
            wait_s=args.wait, rebuild=args.rebuild)
    return 0


def cmd_search(args) -> int:
    from .index import LibraryIndex
    from .search import Searcher

    bundle = _bundle(args)
    if args.store:
        from .studio import search_store

        return search_store(args, bundle, _print_hits, _hit_json)
    if args.like:
        return _search_like(args, bundle)
    if args.like_video:
        return _search_like_video(args, bundle)
    searcher = Searcher(LibraryIndex.open(args.index, bundle), bundle, fusion=not args.no_fusion)
    if searcher.fusion and not searcher.fused and searcher.index.meta.get("sentence_encoder") != bundle.sentence_id \
            and bundle.sentence_id is not None:
        print("note: ranking by MaxSim alone: the index has no description vectors from this model's sentence "
              "encoder yet (run `index` on the library to add them)", file=sys.stderr)
    if args.queries:
        return _search_lines(searcher, args)
    hits = searcher.search(args.text, args.top, exact=args.exact or None)
    if args.json:
        print(json.dumps([_hit_json(h) for h in hits], indent=1))
    else:
        _print_hits(args.text, hits)
    return 0


def _search_lines(searcher, args) -> int:
    """--queries FILE: one JSON list of hits per query line (blank lines skipped); a line that cannot
    be searched (no known words, not UTF-8) gives {"line": N, "error": ...} there and on stderr,
    and the other lines still run. Exit status 1 when any line failed."""
    raw = Path(args.queries).read_bytes()
    failed = 0
    for number, line in enumerate(raw.splitlines(), 1):
        try:
            text = line.decode("utf-8").strip()
            if not text:
                continue
            hits = searcher.search(text, args.top, exact=args.exact or None)
            print(json.dumps([_hit_json(h) for h in hits]), flush=True)
        except (UnicodeDecodeError, ValueError) as e:
            why = "not UTF-8 text" if isinstance(e, UnicodeDecodeError) else safe_text(e)
            print(json.dumps({"line": number, "error": why}), flush=True)
            print(f"error: {safe_text(args.queries)}:{number}: {why}", file=sys.stderr)
            failed += 1
    return 1 if failed else 0


def _search_like(args, bundle) -> int:
    """search --like FILE: the clips whose motion is most alike the file's (its frames --start..--end),
    the file's own clip left out when it is in the index."""
    from .describe import MIN_FRAMES
    from .index import LibraryIndex
    from .motion import load_motion_range
    from .search import SimilarSearcher

    searcher = SimilarSearcher(LibraryIndex.open(args.index, bundle), bundle, fusion=not args.no_fusion)
    motion = load_motion_range(args.like, args.fps, args.start, args.end, min_frames=MIN_FRAMES, purpose="compare")
    own = searcher.clips_of_file(args.like)
    hits = searcher.search_like(searcher.encode(motion, args.like), args.top, exclude=own)
    if own:
        print(f"left out: {', '.join(searcher.index.clips[i].path for i in sorted(own))} (the query itself)",
              file=sys.stderr)
    if args.json:
        print(json.dumps([_hit_json(h) for h in hits], indent=1))
    else:
        _print_hits(f"like {args.like}" + (f" frames {args.start}-{args.end}" if args.start is not None or args.end is not None else ""), hits)
    return 0


def _film_motion(args):
    """The motion of the person in args.film (its seconds --start..--end), its report on stderr."""
    from .video import video_motion

    if not os.path.exists(args.film):
        raise FileNotFoundError(f"{args.film}: video file not found")
    print(f"reading {args.film} with BlazePose ...", file=sys.stderr)
    result = video_motion(args.film, start=args.start, end=args.end, fps=args.fps, fov_deg=args.fov)
    print(f"{args.film}: {result.summary()}", file=sys.stderr)
    return result


def _search_like_video(args, bundle) -> int:
    """search --like-video FILM: the clips whose motion is most alike the filmed person's."""
    from .describe import MIN_FRAMES
    from .index import LibraryIndex
    from .search import SimilarSearcher
    from .video import VideoError

    searcher = SimilarSearcher(LibraryIndex.open(args.index, bundle), bundle, fusion=not args.no_fusion)  # a bad index fails before the film
    args.film = args.like_video
    motion = _film_motion(args).motion
    if motion.num_frames < MIN_FRAMES:
        raise VideoError(args.film, f"{motion.duration:.2f} s of motion is too short to compare: "
                         f"at least {MIN_FRAMES / motion.fps:.2f} s is needed")
    hits = searcher.search_like(searcher.encode(motion, args.film), args.top)
    if args.json:
        print(json.dumps([_hit_json(h) for h in hits], indent=1))
    else:
        span = "" if args.start is None and args.end is None else \
            f" {args.start or 0:g}-" + (f"{args.end:g}" if args.end is not None else "end") + " s"
        _print_hits(f"like the video {args.film}{span}", hits)
    return 0


def cmd_video(args) -> int:
    """The motion of the person in a video, as BVH (on its own skeleton, or --onto a file's)."""
    from .io import read_bvh, write_bvh
    from .motion import load_mapping_file
    from .video import video_bvh

    if not str(args.out).lower().endswith(".bvh"):
        raise ValueError(f"{args.out}: --out writes a BVH file (give a name ending in .bvh)")
    onto = None
    if args.onto:
        if not str(args.onto).lower().endswith(".bvh"):
            raise ValueError(f"{args.onto}: --onto takes a BVH file (the skeleton to write the motion onto)")
        onto = read_bvh(args.onto)
    result = _film_motion(args)
    overrides = load_mapping_file(args.onto_rig_map) if args.onto_rig_map else None
    anim = video_bvh(result.motion, onto, fps=args.out_fps, rig_overrides=overrides)
    write_bvh(anim, args.out)
    print(f"wrote {args.out}: {anim.num_frames} frames at {anim.fps:g} fps"
          + (f" on the skeleton of {args.onto}" if args.onto else " on a skeleton of the canonical joints"))
    if args.json:
        r = result
        print(json.dumps({"file": args.film, "out": args.out, "frames": len(r.landmarks), "video_fps": r.video_fps,
                          "frames_with_person": int(r.landmarks.found.sum()), "trimmed": r.trimmed,
                          "filled": r.filled, "mirrored_frames": r.mirrored.count,
                          "mirrored_stretches": r.mirrored.stretches, "seconds": round(r.seconds, 3),
                          "motion_seconds": round(r.motion.duration, 3)}, indent=1))
    return 0


def _hit_json(hit) -> dict:
    from .io import split_clip_id

    j = hit.to_json()
    out = {k: j[k] for k in ("path", "start_frame", "end_frame", "fps", "score", "description")}
    if j.get("maxsim") is not None:  # fused search: both scores that make `score`
        out["maxsim"], out["description_score"] = j["maxsim"], j["description_score"]
    scene_clip = split_clip_id(hit.clip_id)
    if scene_clip:  # one of several clips of an FBX, glTF or .blend file: which one
        out["clip"] = scene_clip[1]
    return out


def _print_hits(text: str, hits) -> None:
    print(f'"{safe_text(text)}"')
    for rank, h in enumerate(hits, 1):
        print(f"  {rank:2d}. {h.score:.3f}  {safe_text(h.label):<48s} frames {h.start_frame}-{h.end_frame} "
              f"@ {h.fps:g} fps ({h.duration_s:.1f} s)  {safe_text(h.path)}")
        if h.description:
            print(f"      {h.description}")


def cmd_explain(args) -> int:
    from .motion import load_mapping_file, load_motion
    from .plots import draw_explanation
    from .search import explain_motion

    bundle = _bundle(args)
    overrides = load_mapping_file(args.rig_map) if args.rig_map else None
    motion = load_motion(args.clip, fps=args.fps, rig_overrides=overrides)
    e = explain_motion(bundle, args.text, motion)
    if args.json:
        print(json.dumps(e.to_json(), indent=1))
    else:
        for w in e.words:
            print(f"  {w.word:<14s} -> {w.part:<20s} frames {w.start_frame}-{w.end_frame}  ({w.score:.3f})"
                  + ("  [stop word]" if w.is_stop_word else ""))
    if args.png:
        draw_explanation(e, motion, args.png)
        print(f"wrote {args.png}", file=sys.stderr)
    return 0


def _rank_sentences(args, motion, d, own: list[str]) -> list[dict]:
    """The user's sentences (--rank FILE) and the describer's `own`, scored for the described
    range by the model, best first; each says whose it is ("yours", "describer" or "both")."""
    from dataclasses import replace

    from .search import rank_captions

    path = Path(args.rank)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: sentences file not found")
    yours = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    if not yours:
        raise ValueError(f"{path}: no sentences in it (one per line)")
    texts = list(dict.fromkeys(yours + own))
    clip = replace(motion, positions=motion.positions[d.start: d.end])  # the described range only
    whose = {t: ("both" if t in own else "yours") if t in yours else "describer" for t in texts}
    return [{"text": t, "score": round(score, 4), "from": whose[t]}
            for t, score in rank_captions(_bundle(args), clip, texts)]


def _detail_text(detail: dict) -> str:
    return ", ".join(f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}" for k, v in detail.items())


def cmd_describe(args) -> int:
    from .describe import MIN_FRAMES, describe
    from .motion import clip_range, load_mapping_file, load_motion, source_range

    if args.captions < 0:
        raise ValueError(f"--captions must be 0 or more, not {args.captions}")
    overrides = load_mapping_file(args.rig_map) if args.rig_map else None
    motion = load_motion(args.file, fps=args.fps, rig_overrides=overrides, asf=args.asf)
    d = describe(motion, *clip_range(motion, args.start, args.end, min_frames=MIN_FRAMES))
    caps = d.captions(args.captions, args.seed) if args.captions else []
    ranked = _rank_sentences(args, motion, d, list(dict.fromkeys([d.summary] + [c.text for c in caps]))) \
        if args.rank else None
    first, last = source_range(motion, d.start, d.end)
    if args.json:
        out = {"file": motion.source, "source_fps": motion.source_fps, "start_frame": first, "end_frame": last,
               **d.to_json(captions=args.captions, seed=args.seed)}
        for key, events in (("events", d.events), ("actions", d.actions)):
            for ev, j in zip(events, out[key]):
                j["start_frame"], j["end_frame"] = source_range(motion, ev.start, ev.end)
        for cap in out.get("captions", []):
            for link in cap["links"]:
                link["source_frames"] = list(source_range(motion, *link["frames"]))
        if ranked is not None:
            out["ranked"] = ranked
        print(json.dumps(out, indent=1))
        return 0
    print(d.summary)
    if caps:
        print("\ncaptions:")
        for c in caps:
            print(f"  {c.text}")
    print(f"\nevents (frames {first}-{last} of {motion.source} at {motion.source_fps:g} fps; "
          f"seconds from frame {motion.first_source_frame}):")
    for ev in d.events:
        a, b = source_range(motion, ev.start, ev.end)
        print(f"  {ev.kind:<11s} {ev.side or '-':<5s}  frames {a}-{b}  {ev.start / d.fps:.2f}-{ev.end / d.fps:.2f} s"
              f"  {_detail_text(ev.detail)}".rstrip())
    if not d.events:
        print("  (none)")
    if ranked is not None:
        print(f"\nsentences ranked by the model for frames {first}-{last} (yours: from {args.rank}):")
        for r in ranked:
            print(f"  {r['score']:6.3f}  {r['from']:<9s}  {r['text']}")
    return 0


def cmd_retarget(args) -> int:
    """A clip (its frames --start..--end) onto another BVH file's skeleton, written as BVH."""
    from dataclasses import replace

    from .describe import MIN_FRAMES
    from .io import read_bvh, write_bvh
    from .motion import clip_range, load_mapping_file, load_motion
    from .retarget import retarget_onto

    if not str(args.onto).lower().endswith(".bvh"):
        raise ValueError(f"{args.onto}: --onto takes a BVH file (the skeleton to write the clip onto)")
    overrides = load_mapping_file(args.rig_map) if args.rig_map else None
    motion = load_motion(args.clip, fps=args.fps, rig_overrides=overrides, asf=args.asf)
    a, b = clip_range(motion, args.start, args.end, min_frames=MIN_FRAMES, purpose="retarget")
    if a is not None:
        motion = replace(motion, positions=motion.positions[a:b])
    target = read_bvh(args.onto)
    onto_map = load_mapping_file(args.onto_rig_map) if args.onto_rig_map else None
    out = retarget_onto(motion, target, rig_overrides=onto_map, fps=args.out_fps)
    write_bvh(out, args.out)
    print(f"wrote {args.out}: {out.num_frames} frames at {out.fps:g} fps on the skeleton of {args.onto}")
    return 0


DEMO_QUERIES = [
    "a character waves hello with the right hand",
    "someone raises the left hand",
    "a person walks and turns left",
    "an elderly person walks slowly",
    "a person runs forward energetically",
    "someone bows politely",
]


def cmd_demo(args) -> int:
    """Index the default library (Bandai-Namco + CMU from the shared data), search, explain."""
    from . import shared_data
    from .motion import load_motion
    from .plots import draw_explanation
    from .search import Searcher, explain

    bundle = _bundle(args)
    print(f"default library: Bandai-Namco and CMU clips from {shared_data.data_dir()}, "
          f"extracted to {shared_data.cache_dir() / 'data'}")
    sources = [str(shared_data.extracted(name)) for name in shared_data.ARCHIVES]
    fps_of = shared_data.cmu_fps  # the CMU conversions claim 120 fps for 60 fps captures
    index, _ = _update(Path(args.index), sources, bundle, fps_of, args.jobs)
    searcher = Searcher(index, bundle)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for k, text in enumerate(DEMO_QUERIES):
        hits = searcher.search(text, args.top)
        _print_hits(text, hits)
        if k < 2 and hits:
            e = explain(bundle, text, hits[0], index)
            motion = load_motion(hits[0].path, fps=fps_of(hits[0].path))
            png = out / f"explain_{k + 1}.png"
            draw_explanation(e, motion, png, hits[0].score)
            words = ", ".join(f"{w.word}->{w.part}" for w in e.words if not w.is_stop_word)
            print(f"     why #1: {words}  (picture: {png})")
    return 0


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runtime", description="Fine-grained text-to-motion search.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--bundle", default=None, help="model bundle folder (default: models/default)")
    common.add_argument("--device", default="auto", choices=("auto", "cuda", "cpu"), help="inference device")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("index", parents=[common], help="build or update the index of motion folders")
    p.add_argument("folders", nargs="+", help="folders (searched recursively) or files: .bvh, .amc, "
                   "and with Blender .fbx, .glb, .gltf, .blend")
    p.add_argument("--index", default=str(default_index_path()), help="index folder")
    p.add_argument("--fps", type=float, default=None, help="the real frame rate of every file, if theirs is wrong")
    p.add_argument("--codec", default="int8", choices=("int8", "int4", "fp16"), help="patch storage (new index)")
    p.add_argument("--rig-map", default=None, help="JSON bone mapping for a rig no convention knows")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="processes reading files")
    p.add_argument("--blender", default=None, help="Blender executable (or a Python with bpy) that reads FBX, glTF "
                   "and .blend files (default: MOTION_SEARCH_BLENDER, blender on PATH, or this Python's bpy)")
    p.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                   help="wait this long for another update of the same index to finish (default: say who holds it)")
    p.add_argument("--rebuild", action="store_true",
                   help="encode the whole library again into a fresh index (a damaged index, say)")
    p.add_argument("--store", default=None, help="also upload what changed to this shared library (Qdrant): "
                   "qdrant+http(s)://HOST:6333/COLLECTION, qdrant+edge:///FOLDER, or a config file (docs/STUDIO.md)")
    p.add_argument("--library", default=None, help="with --store: the library's name (default: the folder's name)")
    p.set_defaults(func=cmd_index, store_default_index=p.get_default("index"))

    p = sub.add_parser("search", parents=[common], help="search the index by text")
    p.add_argument("text", nargs="?", default="", help="what the motion looks like")
    p.add_argument("--index", default=str(default_index_path()), help="index folder")
    p.add_argument("--top", type=_positive_int, default=10, help="how many clips (1 or more)")
    p.add_argument("--json", action="store_true", help="print hits as JSON")
    p.add_argument("--queries", default=None, help="a file with one query per line: one JSON list per line")
    p.add_argument("--exact", action="store_true", help="score every window (no candidate stage)")
    p.add_argument("--no-fusion", action="store_true",
                   help="rank by MaxSim alone (default: fused with the similarity to each clip's descriptions; with "
                        "--like and --like-video, the query motion's own descriptions)")
    p.add_argument("--like", default=None, metavar="FILE", help="find clips whose motion is alike this file's")
    p.add_argument("--like-video", default=None, metavar="FILM",
                   help="find clips whose motion is alike the person's in this video (needs video support)")
    p.add_argument("--start", type=float, default=None,
                   help="with --like: first frame of the file; with --like-video: first second (default: all)")
    p.add_argument("--end", type=float, default=None,
                   help="with --like: last frame of the file (included); with --like-video: last second")
    p.add_argument("--fps", type=float, default=None,
                   help="with --like: the file's real frame rate, if its own is wrong; with --like-video: a fixed "
                   "rate instead of the video's timestamps (needed for an image folder)")
    p.add_argument("--fov", type=float, default=60.0, help="with --like-video: the camera's horizontal field of view")
    p.add_argument("--store", default=None, help="search this shared library (Qdrant) instead of the local index")
    p.add_argument("--library", default=None, help="with --store: only this library of the collection")
    p.add_argument("--mount", action="append", default=[], metavar="NAME=DIR",
                   help="with --store: this machine's folder of library NAME (repeatable; or the config file's)")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("video", help="the motion of the person in a video, written as BVH (needs video support)")
    p.add_argument("film", help="a video file, or a folder of images (with --fps)")
    p.add_argument("--out", required=True, metavar="OUT.bvh", help="where to write the motion")
    p.add_argument("--start", type=float, default=None, help="first second of the video (default: all)")
    p.add_argument("--end", type=float, default=None, help="last second of the video (included)")
    p.add_argument("--fps", type=float, default=None,
                   help="a fixed frame rate instead of the video's timestamps (needed for an image folder)")
    p.add_argument("--fov", type=float, default=60.0, help="the camera's horizontal field of view, degrees "
                   "(scales the travel, not the pose)")
    p.add_argument("--onto", default=None, metavar="TARGET.bvh", help="write onto this BVH file's skeleton "
                   "(default: a skeleton of the canonical joints, sized like the person)")
    p.add_argument("--onto-rig-map", default=None, help="JSON bone mapping for the target's rig")
    p.add_argument("--out-fps", type=float, default=None, help="frame rate of the BVH (default: 20)")
    p.add_argument("--json", action="store_true", help="also print the extraction report as JSON")
    p.set_defaults(func=cmd_video)

    p = sub.add_parser("explain", parents=[common], help="which body parts and frames each word matched")
    p.add_argument("text")
    p.add_argument("clip", help="a motion file")
    p.add_argument("--png", default=None, help="write the explanation picture here")
    p.add_argument("--json", action="store_true", help="print the explanation as JSON")
    p.add_argument("--fps", type=float, default=None, help="the clip's real frame rate, if the file's is wrong")
    p.add_argument("--rig-map", default=None, help="JSON bone mapping for a rig no convention knows")
    p.set_defaults(func=cmd_explain)

    p = sub.add_parser("describe", parents=[common], help="what a clip does, in words (no model needed)")
    p.add_argument("file", help="a motion file (.bvh, .amc)")
    p.add_argument("--start", type=int, default=None, help="first frame of the file to describe (default: all)")
    p.add_argument("--end", type=int, default=None, help="last frame of the file to describe (included)")
    p.add_argument("--json", action="store_true", help="print the description as JSON")
    p.add_argument("--captions", type=int, default=5, help="how many varied sentences besides the summary")
    p.add_argument("--seed", type=int, default=0, help="which varied sentences (the same seed, the same ones)")
    p.add_argument("--fps", type=float, default=None, help="the clip's real frame rate, if the file's is wrong")
    p.add_argument("--rig-map", default=None, help="JSON bone mapping for a rig no convention knows")
    p.add_argument("--asf", default=None, help="ASF skeleton of an AMC file, when it is not beside it")
    p.add_argument("--rank", default=None, metavar="SENTENCES",
                   help="a file with one sentence per line: rank them and the describer's with the model")
    p.set_defaults(func=cmd_describe)

    p = sub.add_parser("retarget", help="write a clip onto another BVH file's skeleton (no model needed)")
    p.add_argument("clip", help="the motion: a .bvh or .amc file")
    p.add_argument("--onto", required=True, metavar="TARGET.bvh", help="a BVH file whose skeleton gets the motion")
    p.add_argument("--out", required=True, metavar="OUT.bvh", help="where to write the retargeted clip")
    p.add_argument("--start", type=int, default=None, help="first frame of the clip's file (default: all)")
    p.add_argument("--end", type=int, default=None, help="last frame of the clip's file (included)")
    p.add_argument("--fps", type=float, default=None, help="the clip's real frame rate, if the file's is wrong")
    p.add_argument("--out-fps", type=float, default=None, help="frame rate of the result (default: the clip's)")
    p.add_argument("--rig-map", default=None, help="JSON bone mapping for the clip's rig")
    p.add_argument("--onto-rig-map", default=None, help="JSON bone mapping for the target's rig")
    p.add_argument("--asf", default=None, help="ASF skeleton of an AMC clip, when it is not beside it")
    p.set_defaults(func=cmd_retarget)

    p = sub.add_parser("demo", parents=[common], help="index the default library, search, explain")
    p.add_argument("--index", default=str(default_index_path() / "demo"), help="index folder")
    p.add_argument("--out", default="out/demo", help="folder for the pictures")
    p.add_argument("--top", type=int, default=5)
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    p.set_defaults(func=cmd_demo)

    args = parser.parse_args(argv)
    if isinstance(getattr(args, "text", None), str):  # bytes that were not UTF-8 in a query: replaced
        args.text = args.text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    if args.command in ("index", "search") and not args.store and (args.library or getattr(args, "mount", None)):
        parser.error("--library and --mount go with --store (a shared library)")
    if args.command == "search":
        if not args.queries and not args.like and not args.like_video and not args.text.strip():
            parser.error("search needs a TEXT, --queries FILE, --like FILE or --like-video FILM")
        if args.like and args.like_video:
            parser.error("give --like FILE or --like-video FILM, not both")
        if not args.like and not args.like_video and (args.start is not None or args.end is not None):
            parser.error("--start and --end choose frames of the --like FILE (seconds of the --like-video FILM): "
                         "give one of them too")
        if args.like:  # frames of a motion file: whole numbers
            for name in ("start", "end"):
                value = getattr(args, name)
                if value is not None:
                    if value != int(value):
                        parser.error(f"--{name} with --like is a frame number, not {value:g}")
                    setattr(args, name, int(value))
    try:
        return args.func(args)
    except (MotionSearchError, ValueError, OSError) as e:
        print(f"error: {safe_text(e)}", file=sys.stderr)
        return 1


def motion_main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runtime.motion", description="Check a motion file by eye.")
    sub = parser.add_subparsers(dest="command", required=True)
    show = sub.add_parser("show", help="draw a clip's joint-angle image and a few poses as a PNG")
    show.add_argument("file")
    show.add_argument("--png", required=True, help="where to write the picture")
    show.add_argument("--fps", type=float, default=None, help="the capture's real frame rate, if the file's is wrong")
    show.add_argument("--rig-map", default=None, help="JSON bone mapping for an unknown rig")
    show.add_argument("--asf", default=None, help="ASF skeleton of an AMC file")
    args = parser.parse_args(argv)
    from .motion import load_mapping_file, load_motion
    from .plots import draw_motion

    try:
        overrides = load_mapping_file(args.rig_map) if args.rig_map else None
        motion = load_motion(args.file, fps=args.fps, rig_overrides=overrides, asf=args.asf)
        draw_motion(motion, args.png)
    except MotionSearchError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"{args.file}: {motion.num_frames} frames at {motion.fps:g} fps ({motion.duration:.1f} s), "
          f"rig {motion.rig}, {motion.metres_per_unit:g} m/unit, "
          f"{'dropped rest frame 0, ' if motion.first_source_frame else ''}wrote {args.png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
