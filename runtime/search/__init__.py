"""Searching an index: text -> motion (two-stage MaxSim on the stored codes), motion -> motion
(find similar), motion -> text (ranking captions), the MaxSim kernels, and explanations (each
word's best patch: a body part over a time span).

May import: runtime.index, runtime.model, runtime.motion, runtime.errors, runtime.hashing.
"""

from .beside import encode_beside, holding_caller, sentence_beside, submit_beside
from .code_scores import CodeScorer, FirstStageScorer, signed_products_exact, sketch_maxsim
from .explain import Explanation, WordMatch, explain, explain_motion, explain_patches
from .fusion import EXTRA_CANDIDATES, POPULATION_SAMPLE
from .fusion import MOTION_WEIGHT as MOTION_FUSION_WEIGHT
from .fusion import WEIGHT as FUSION_WEIGHT
from .fusion import DescriptionScorer, description_scores, fuse, neutral, standardised
from .maxsim import maxsim_packed, maxsim_padded, segment_max, token_patch_argmax
from .searcher import EXACT_UP_TO, REFINE_WINDOWS, Hit, Searcher, candidate_counts, default_candidates, rank_captions
from .similar import MotionQuery, SimilarSearcher, query_description, similar_candidates
