"""The on-disk index of a library: chunks of compressed patch embeddings and clip entries, their
atomic commit, codecs, cells (search's first stage), per-body-part summaries, patch sketches,
updates and format upgrades.

May import: runtime.library, runtime.describe, runtime.motion, runtime.errors, runtime.hashing.
The model bundle is handed to `update`, never imported.
"""

from .cells import PROBES, CellStage, assign_cells, codebook_id, fit_codebook, window_cells
from .chunks import (cells_files, chunk_checksums, file_crc32, load_npy, pooled_vectors, populate, save_cells,
                     save_chunk_arrays, write_json)
from .codec import CODECS, bytes_per_patch, decode, encode
from .descriptions import (clip_motion_vectors, describer_blocks, describer_vectors, description_texts,
                           description_vector, description_vectors, motion_vector)
from .entries import ClipEntry, UpdateReport
from .first_stage import FirstStage, part_means, summarise, summarise_means
from .gather import packed_rows
from .ingest import describe_summary, describer_version
from .lock import IndexLock
from .sketch import SKETCH_DIMS, encode_sketches, fit_sketch_basis, sketch_basis_array
from .store import (DEFAULT_CODEC, INDEX_FORMAT, INDEX_VERSION, LibraryIndex, other_model_error, read_meta,
                    write_metadata)
