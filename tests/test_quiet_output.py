"""Commands print their own lines only: no transformers "Loading weights" bars, in the main process or its workers."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import textwrap

from textgym_agents.run import RunConfig


def test_a_bench_worker_loads_the_model_without_progress_bars(tmp_path):
    """``textgym bench --workers N`` runs each run through ``_run_one`` in a spawned process."""
    run = RunConfig(agent="lm-ppo", env_id="textgym/Sentiment-v0", steps=8, eval_every=8, num_envs=4, device="cpu",
                    out=str(tmp_path / "run"), env_kwargs={"max_new_tokens": 4})
    code = textwrap.dedent(f"""
        import json
        from textgym_agents.bench.runner import _run_one
        _run_one(json.loads({json.dumps(json.dumps(dataclasses.asdict(run)))}), 1)
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "run" / "summary.json").is_file()
    assert "Loading weights" not in result.stderr + result.stdout
    assert "it/s]" not in result.stderr
