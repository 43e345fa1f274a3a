"""The throughput benchmark runs end to end at a tiny size (its numbers are measured by hand, not here)."""

import csv
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.fixture()
def throughput(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import throughput

    return throughput


def test_env_throughput_table_and_csv(throughput, tmp_path, capsys):
    out = tmp_path / "t.csv"
    assert throughput.main(["--tasks", "copy", "--num-envs", "2", "--async-max", "0", "--seconds", "0.02",
                            "--rounds", "1", "--csv", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    main, lengths = rows[0], rows[1]
    assert main["task"] == "copy" and float(main["vector_steps_per_s"]) > 0 and float(main["sync_steps_per_s"]) > 0
    assert float(main["vector_torch_arrays_steps_per_s"]) > 0 and main["async_steps_per_s"] == ""
    assert float(lengths["len256_over_len16"]) > 0
    assert "| copy | 2 |" in capsys.readouterr().out


def test_transitions_skip_next_step_reset_calls(throughput, monkeypatch):
    """A next-step autoreset env's call after an episode's end applies no action: not counted."""

    class EndsEverySecondCall:
        metadata = {"autoreset_mode": gym.vector.AutoresetMode.NEXT_STEP}

        def reset(self, seed=None):
            self.t = 0

        def step(self, actions):
            self.t += 1
            done = np.array([self.t % 2 == 0, False])  # env 0 ends at every even call
            return None, None, done, np.zeros(2, dtype=bool), {}

    ticks = iter([0.0, 1.0])  # one pass over the actions takes "1 s"
    monkeypatch.setattr(throughput.time, "perf_counter", lambda: next(ticks))
    # 3 warm-up calls (t = 1..3), then t = 4 (2 transitions; env 0 ends), 5 (1: env 0 resets),
    # 6 (2; ends), 7 (1): 6 transitions in 1 s
    assert throughput.timed_steps(EndsEverySecondCall(), np.zeros((4, 2), dtype=np.int64), min_seconds=0.5) == 6.0


def test_lm_ppo_throughput_through_the_agent_option(throughput, tmp_path):
    out = tmp_path / "lm.csv"
    assert throughput.main(["--agent", "lm-ppo", "--num-envs", "4", "--tokens", "3", "--repeats", "1",
                            "--update-repeats", "1", "--threads", "1", "--out", str(out)]) == 0
    assert out.exists() and out.read_text().strip()
    sys.modules.pop("lm_ppo_throughput", None)
