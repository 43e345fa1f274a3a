"""`textgym bench` with a task's own reward modes: ``turn`` on a conversation, refused elsewhere; the reports compare
dense > turn > sparse pairwise in one Holm family and leave two-mode suites as they were."""

import pytest

from textgym_agents.bench.config import SuiteConfigError, load_suite, task_reward_modes
from textgym_agents.bench.readme import suite_block
from textgym_agents.bench.report import cells, compare_mode_pairs, mode_pairs, summarize, write_results_csv

CONVERSATION = "textgym/Conversation-v0"


def _suite(tmp_path, env: str, modes: str) -> str:
    path = tmp_path / "s.yaml"
    path.write_text(f"name: s\nseeds: 2\nreward_modes: {modes}\nagents: [lm-ppo]\n"
                    f"tasks: [{{env: {env}, threshold: 0.3, steps: 8}}]\n")
    return str(path)


def test_turn_is_a_reward_mode_of_conversations_only():
    assert task_reward_modes(CONVERSATION) == ("dense", "turn", "sparse")
    assert task_reward_modes("textgym/Sentiment-v1") == ("dense", "sparse")


def test_config_accepts_turn_for_a_conversation_and_names_runs_by_it(tmp_path):
    suite = load_suite(None, _suite(tmp_path, CONVERSATION, "[dense, turn, sparse]"), str(tmp_path / "out"),
                       device="cpu")
    names = [run.out.split("/")[-1] for run in suite.runs]
    assert names == [f"lm-ppo__Conversation-v0__{mode}__seed{seed}" for mode in ("dense", "turn", "sparse")
                     for seed in (0, 1)]
    assert [run.reward_mode for run in suite.runs] == ["dense", "dense", "turn", "turn", "sparse", "sparse"]
    assert suite.thresholds == {CONVERSATION: 0.3}


def test_config_refuses_turn_for_a_task_without_it_naming_the_allowed_modes(tmp_path):
    with pytest.raises(SuiteConfigError, match=r"textgym/Sentiment-v1 has no reward mode 'turn'; its env accepts "
                                               r"\['dense', 'sparse'\]"):
        load_suite(None, _suite(tmp_path, "textgym/Sentiment-v1", "[dense, turn]"), str(tmp_path / "out"),
                   device="cpu")
    with pytest.raises(SuiteConfigError, match=r"reward_modes must be a non-empty list of \['dense', 'turn', "
                                               r"'sparse'\], got \['late'\]"):
        load_suite(None, _suite(tmp_path, CONVERSATION, "[late]"), str(tmp_path / "out"), device="cpu")


def test_pairs_are_compared_in_the_order_dense_turn_sparse():
    assert mode_pairs({"sparse", "turn", "dense"}) == [("dense", "turn"), ("turn", "sparse"), ("dense", "sparse")]
    assert mode_pairs({"dense", "sparse"}) == [("dense", "sparse")]
    # credit arms take no part: the credit suite compares dense with sparse as before
    assert mode_pairs({"dense", "sparse", "uniform", "attention"}) == [("dense", "sparse")]
    assert mode_pairs({"turn", "sparse"}) == [("turn", "sparse")]
    assert mode_pairs({"sparse"}) == []


def _rows(finals: dict[tuple[str, str], list[float]]) -> list[dict]:
    """Two evaluations per seed (0 and 100 env steps), the second at the given final return."""
    rows = []
    for (agent, mode), values in finals.items():
        for seed, value in enumerate(values):
            for steps, score in ((0, 0.0), (100, value)):
                rows.append({"agent": agent, "env_id": CONVERSATION, "reward_mode": mode, "seed": seed,
                             "env_steps": steps, "eval_return": score, "ref_perplexity": 3.0, "distinct_1": 0.3,
                             "distinct_2": 0.5, "repetition": 0.1, "same_continuation_share": 0.2,
                             "wall_seconds": 1.0})
    return rows


# agent a: every dense run above every turn run above every sparse run; agent b: dense above both, turn and sparse
# the same five values
FINALS = {("a", "dense"): [0.80, 0.81, 0.82, 0.83, 0.84], ("a", "turn"): [0.50, 0.51, 0.52, 0.53, 0.54],
          ("a", "sparse"): [0.20, 0.21, 0.22, 0.23, 0.24],
          ("b", "dense"): [0.90, 0.91, 0.92, 0.93, 0.94], ("b", "turn"): [0.30, 0.31, 0.32, 0.33, 0.34],
          ("b", "sparse"): [0.30, 0.31, 0.32, 0.33, 0.34]}


def test_three_modes_give_three_pairs_per_agent_in_one_holm_family():
    per_task, overall = compare_mode_pairs(cells(_rows(FINALS)), agents=["a", "b"])
    assert overall == []  # one task
    got = {(c.agent, c.first, c.second): c for c in per_task}
    assert list(got) == [("a", "dense", "turn"), ("a", "turn", "sparse"), ("a", "dense", "sparse"),
                         ("b", "dense", "turn"), ("b", "turn", "sparse"), ("b", "dense", "sparse")]
    # 5 runs all above 5 others: P = 1, the exact two-sided p = 2 / C(10, 5) = 2/252; the same values: P = 0.5, p = 1
    separated = [c for key, c in got.items() if key != ("b", "turn", "sparse")]
    for c in separated:
        assert c.probability[0] == 1.0 and c.p == pytest.approx(2 / 252)
    tie = got[("b", "turn", "sparse")]
    assert tie.probability[0] == 0.5 and tie.p == pytest.approx(1.0)
    # Holm over the 6: the five smallest p-values (equal) get 6 * 2/252 = 0.0476 (the running maximum of 6p, 5p, ...),
    # the largest max(0.0476, 1 * 1.0) = 1; 0.0476 <= 0.05, so the five hold
    for c in separated:
        assert c.adjusted == pytest.approx(6 * 2 / 252)
        assert c.verdict == f"{c.first} > {c.second}"
    assert tie.adjusted == pytest.approx(1.0) and tie.verdict == "no difference shown"


def test_three_mode_summary_and_readme_block_show_every_pair(tmp_path):
    rows = _rows({key: values for key, values in FINALS.items() if key[0] == "a"})
    summary = summarize(rows, "s", "cmd")
    assert "## Which reward helps? P(dense > turn), P(turn > sparse), P(dense > sparse)" in summary
    # one agent: a family of 3 equal p-values 2/252, Holm gives each 3 * 2/252 = 0.0238
    for pair, verdict in (("P(dense > turn)", "dense > turn"), ("P(turn > sparse)", "turn > sparse"),
                          ("P(dense > sparse)", "dense > sparse")):
        assert f"| a | {CONVERSATION} | {pair} | 1.00 [0.69, 1.00] | 0.008 | 0.024 | {verdict} |" in summary
    assert ("- Dense against turn, per task: 1 of 1 comparisons hold after Holm's adjustment (family-wise 5% over "
            "all 3 comparisons per task): a on textgym/Conversation-v0: dense > turn (P 1.00, Holm p 0.024)."
            ) in summary
    assert "- Turn against sparse, per task: 1 of 1" in summary
    assert "sparse reward's peak" not in summary  # turn is an env reward mode, no credit arm
    (tmp_path / "s").mkdir()
    write_results_csv(rows, tmp_path / "s" / "results.csv")
    block = suite_block("s", tmp_path)
    assert "| task | agent | dense | turn | sparse |" in block  # the modes in the order dense, turn, sparse
    assert "| Conversation-v0 | a | P(turn > sparse) | 1.00 [0.69, 1.00] | 0.008 | 0.024 | **turn > sparse** |" in block
    assert "P(dense > sparse) [95% CI]" not in block  # the pairs have their own table


def test_two_mode_tables_are_unchanged(tmp_path):
    rows = [{**row, "reward_mode": row["reward_mode"]} for row in _rows(FINALS)
            if row["agent"] == "a" and row["reward_mode"] != "turn"]
    summary = summarize(rows, "s", "cmd")
    assert "## Does the instant (dense) reward help? P(dense > sparse)" in summary
    assert f"| a | {CONVERSATION} | 1.00 [0.69, 1.00] | 0.008 | 0.008 | dense > sparse |" in summary
    assert ("- Dense against sparse, per task: 1 of 1 comparisons hold after Holm's adjustment (family-wise 5%): "
            "a on textgym/Conversation-v0: dense > sparse (P 1.00, Holm p 0.008).") in summary
    (tmp_path / "s").mkdir()
    write_results_csv(rows, tmp_path / "s" / "results.csv")
    block = suite_block("s", tmp_path)
    assert "| task | agent | dense | sparse | P(dense > sparse) [95% CI] | Holm p | verdict |" in block
    assert "| comparison |" not in block


def test_a_conversation_run_takes_turn_and_is_evaluated_without_env_kwargs():
    """``textgym train`` (the bench's runs) checks the reward mode against the env's own and evaluates a
    conversation id from its registered task name."""
    import numpy as np

    from textgym.evaluation import evaluate_episodes
    from textgym_agents.run import RunConfig
    from textgym_agents.train import check_run_config

    check_run_config(RunConfig(agent="lm-ppo", env_id=CONVERSATION, reward_mode="turn", out="unused"))
    with pytest.raises(ValueError, match=r"unknown reward_mode 'turn'; allowed: \['dense', 'sparse'\]"):
        check_run_config(RunConfig(agent="lm-ppo", env_id="textgym/Sentiment-v1", reward_mode="turn", out="unused"))
    eos = []

    def end_at_once(obs, env):
        eos.append(env.tokenizer.eos_token_id)
        return np.full(env.num_envs, env.tokenizer.eos_token_id)

    result = evaluate_episodes(end_at_once, CONVERSATION, naturalness=False)
    assert eos and len(result.scores) == 54  # every eval conversation, each ended by the agent's first token
