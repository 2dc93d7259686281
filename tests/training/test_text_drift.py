"""The text-drift measure: 1 for the pretrained model itself, less once the body was fine-tuned."""

from __future__ import annotations

from training.text_drift import drift, main, outside_sentences


def test_the_pretrained_model_does_not_drift_from_itself():
    from transformers import BertModel

    from training.models.text_encoder import default_text_model_dir, load_tokenizer

    body = BertModel.from_pretrained(default_text_model_dir(), local_files_only=True).eval()
    f = drift(body, body, load_tokenizer(), outside_sentences())
    assert f["cosine"] > 0.9999 and f["geometry"] > 0.9999 and f["sentences"] >= 30


def test_a_fine_tuned_run_drifts(tiny_run, tmp_path, capsys):
    import json

    main([str(tiny_run), "--json", str(tmp_path / "drift.json")])
    f = json.loads((tmp_path / "drift.json").read_text())[tiny_run.name]
    assert 0.0 < f["cosine"] < 0.9999 and -1.0 <= f["geometry"] < 0.9999
    assert "geometry kept" in capsys.readouterr().out
