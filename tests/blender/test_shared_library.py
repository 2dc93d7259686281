"""The Shared Library in Blender: a studio's index in Qdrant (here Qdrant's engine in this process,
qdrant-edge-py: no server can run on the test machines) searched beside the local index, a shared
hit explained and applied from this machine's mount of its library, the API key kept out of the
.blend, an unreachable server a warning after the local results."""

from __future__ import annotations

import os
import shutil
import stat

import bpy
import pytest

from .conftest import BOW, WAVE, import_bvh, library_preferences, submodule, update_index

pytest.importorskip("qdrant_edge", reason="the studio extra (qdrant-edge-py) is not installed")

SHARED = ["dataset-2_wave-both-hands_normal_001.bvh", "dataset-2_walk_normal_001.bvh", "dataset-2_run_normal_001.bvh",
          "dataset-2_raise-up-right-hand_normal_001.bvh"]


@pytest.fixture
def studio(empty_scene, bandai2, tmp_path):
    """A local folder with one clip, and a shared library (other clips) uploaded to an in-process store."""
    from runtime.index import LibraryIndex
    from runtime.model import Bundle
    from runtime.studio import QdrantStore, parse_store

    local, mount = tmp_path / "local", tmp_path / "mocap"
    local.mkdir()
    (mount / "takes").mkdir(parents=True)
    shutil.copy(bandai2 / WAVE, local / WAVE)
    for name in SHARED:
        shutil.copy(bandai2 / name, mount / "takes" / name)
    bundle = Bundle.load(None, device="cpu")
    index = LibraryIndex.create(tmp_path / "studio-index", bundle)
    index.update([mount], bundle)
    address = f"qdrant+edge://{tmp_path}/shard"
    with QdrantStore.open(parse_store(address), bundle, create=True) as store:  # closed: one process holds it
        store.sync(index, "mocap", str(mount))
    with library_preferences(local, tmp_path / "index") as prefs:
        prefs.use_shared_library, prefs.shared_server, prefs.shared_mounts = True, address, f"mocap={mount}"
        try:
            yield prefs, mount
        finally:
            prefs.use_shared_library, prefs.shared_server, prefs.shared_mounts = False, "", ""


def test_shared_and_local_hits_in_one_list_explained_and_applied(studio, bandai1, tmp_path):
    prefs, mount = studio
    bpy.context.scene.motion_search.use_blend_actions = False
    st = update_index()
    st.query = "a person waves the right hand"
    paths = [r.path for r in st.results]
    assert set(paths) == {str(mount / "takes" / n) for n in SHARED} | {str(tmp_path / "local" / WAVE)}
    assert [r.score for r in st.results] == sorted((r.score for r in st.results), reverse=True)
    shared_row = next(k for k, r in enumerate(st.results) if "wave-both" in r.path)
    with submodule("props").quiet():
        st.results_index = shared_row
    assert bpy.ops.motionsearch.explain() == {'FINISHED'} and len(st.words) >= 5  # patches from the store
    obj = import_bvh(bandai1 / BOW)
    assert bpy.ops.motionsearch.apply() == {'FINISHED'}  # read from this machine's mount of the library
    assert obj.animation_data.action.name == f"{st.results[shared_row].label} (motion search)"

    assert bpy.ops.motionsearch.find_similar(source='RESULT') == {'FINISHED'}  # alike the shared clip, both lists
    alike = [r.path for r in st.results]
    assert str(mount / "takes" / SHARED[0]) not in alike  # the query clip itself is left out
    assert str(tmp_path / "local" / WAVE) in alike and len(alike) == len(SHARED)

    prefs.shared_mounts = ""  # another machine, the library not mounted: a clear error, not a missing file
    st.query = "someone walks"
    row = next(k for k, r in enumerate(st.results) if r.clip_id.startswith("mocap:"))
    assert st.results[row].path == ""
    with submodule("props").quiet():
        st.results_index = row
    with pytest.raises(RuntimeError, match="shared library 'mocap', which is not mounted on this machine"):
        bpy.ops.motionsearch.apply()


def test_the_api_key_stays_out_of_the_blend_and_a_dead_server_is_a_warning(studio, tmp_path):
    prefs, _ = studio
    secret = "key-for-the-studio-server-123"
    assert bpy.ops.motionsearch.shared_key_set(key=secret) == {'FINISHED'}
    path = submodule("preferences").shared_key_path()
    assert open(path).read() == secret and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    blend = tmp_path / "scene.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    assert secret.encode() not in blend.read_bytes()
    assert all(secret != getattr(prefs, p.identifier, None) for p in prefs.bl_rna.properties)

    bpy.context.scene.motion_search.use_blend_actions = False
    update_index()
    prefs.shared_server = "http://127.0.0.1:9"  # nothing answers there
    st = bpy.context.window_manager.motion_search
    st.query = "a person waves the right hand"  # the local results, and a warning naming the server
    assert [os.path.basename(r.path) for r in st.results] == [WAVE]
    assert bpy.ops.motionsearch.search() == {'FINISHED'}
    assert bpy.ops.motionsearch.shared_key_set(key="") == {'FINISHED'} and not os.path.exists(path)
