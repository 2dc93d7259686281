"""What is in a library folder: the files (motion files, scene files only Blender reads, others
named in the report), the clips of FBX / glTF / .blend files as items to index (their conversion
cache kept pruned), and `MotionItem`, a motion handed to the index that is not a motion file.

May import: runtime.io, runtime.motion, runtime.errors, runtime.hashing.
"""

from .files import HIDDEN, NOT_MOTION, LibraryFiles, other_files_text, scan
from .items import MotionItem
from .scene_clips import clip_label, prune_cache, scene_file_items
