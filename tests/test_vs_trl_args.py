"""benchmarks/vs_trl.py gives both trainers the same work, schedule and KL (settings only: nothing is trained here)."""

from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.fixture()
def vs_trl(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import vs_trl

    return vs_trl


@pytest.mark.parametrize("passes", [1, 4])
@pytest.mark.parametrize("kl", [0.0, 0.05])
def test_equal_passes_steps_schedule_and_kl(vs_trl, passes, kl):
    lm = vs_trl.lm_ppo_config(passes, 4, kl, 1e-4)
    trl = vs_trl.trl_config_kwargs(
        passes, 4, kl, 1e-4, episodes=800, num_envs=16, num_generations=4, seed=3, output_dir="x"
    )
    # passes and optimizer steps per batch of 16 completions: passes x 4 minibatches of 4 for both
    assert lm.num_epochs == trl["num_iterations"] == passes
    assert lm.num_minibatches == trl["steps_per_generation"] == 4 and trl["gradient_accumulation_steps"] == 1
    assert trl["per_device_train_batch_size"] * trl["steps_per_generation"] == 16
    assert trl["max_steps"] == 50 * passes * 4  # 800 episodes = 50 batches
    # constant learning rate, no warm-up (lm-ppo has no scheduler), same Adam settings and clipping
    assert trl["lr_scheduler_type"] == "constant" and trl["warmup_steps"] == 0 and trl["weight_decay"] == 0
    assert lm.learning_rate == trl["learning_rate"] == 1e-4
    assert (
        lm.adam_eps == trl["adam_epsilon"]
        and lm.max_grad_norm == trl["max_grad_norm"]
        and lm.clip_range == trl["epsilon"]
    )
    # KL: a fixed k3 penalty of the same coefficient (GRPO's beta is always k3), no adaptive controller
    assert lm.kl_coef == trl["beta"] == kl and not lm.adaptive_kl and lm.kl_estimator == "k3"
    # sampling: temperature 1 from the full distribution
    assert (
        lm.temperature == trl["temperature"] == 1.0
        and lm.top_k == trl["top_k"] == 0
        and lm.top_p == trl["top_p"] == 1.0
    )
    assert trl["max_completion_length"] == vs_trl.MAX_NEW_TOKENS


def test_bad_batch_split_is_refused(vs_trl):
    with pytest.raises(ValueError, match="minibatches"):
        vs_trl.trl_config_kwargs(4, 3, 0.0, 1e-4, 800, 16, 4, 0, "x")
    with pytest.raises(ValueError, match="num-generations"):
        vs_trl.trl_config_kwargs(4, 4, 0.0, 1e-4, 800, 16, 5, 0, "x")


def test_grpo_config_accepts_the_settings(vs_trl, tmp_path):
    trl = pytest.importorskip("trl")
    kwargs = vs_trl.trl_config_kwargs(4, 4, 0.05, 1e-4, 800, 16, 4, 0, str(tmp_path))
    config = trl.GRPOConfig(**kwargs)
    assert config.generation_batch_size == 16 and config.num_iterations == 4
    assert getattr(config.lr_scheduler_type, "value", config.lr_scheduler_type) == "constant"
    assert config.beta == 0.05


def test_summary_pairs_side_by_side_rows(vs_trl):
    row = dict(passes=4, kl=0.0, lr=1e-4)
    rows = [dict(row, seed=0, trainer="lm-ppo (dense)", train_seconds=10.0, eval_after=0.9),
            dict(row, seed=0, trainer="trl 1.16.0 GRPO", train_seconds=25.0, eval_after=0.8),
            dict(row, seed=1, trainer="lm-ppo (dense)", train_seconds=10.0, eval_after=0.7),
            dict(row, seed=1, trainer="trl 1.16.0 GRPO", train_seconds=16.0, eval_after=0.9)]
    text = vs_trl.summary(rows)
    assert "| 4 | 0.0 | lm-ppo (dense) | 0.0001 | 0 1 | 0.900 / 0.700 | 0.800 |" in text
    assert "2.50 / 1.60 | **2.00x** |" in text


def test_phase_timer_only_times_named_calls(vs_trl):
    timer = vs_trl.PhaseTimer()
    double = timer.wrap(lambda x: "big" if x > 1 else None, lambda x: 2 * x)
    assert double(1) == 2 and double(3) == 6
    assert set(timer.seconds) == {"big"}
