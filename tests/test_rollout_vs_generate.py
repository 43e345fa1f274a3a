"""benchmarks/rollout_vs_generate.py runs end to end at a tiny size (its numbers are measured by hand, not here)."""

import csv
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def test_tiny_run_decodes_every_token_on_both_sides(monkeypatch, tmp_path):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import rollout_vs_generate

    out = tmp_path / "r.csv"
    assert rollout_vs_generate.main(["--shapes", "2x3", "--rounds", "1", "--out", str(out)]) == 0
    row = next(csv.DictReader(out.open()))
    # EOS suppressed on both sides: the same 2 x 3 tokens decoded by each
    assert int(row["rollout_tokens"]) == int(row["generate_tokens"]) == 6
    assert float(row["rollout_over_generate"]) > 0 and float(row["rollout_without_env_over_generate"]) > 0
