"""TextGenVectorEnv: same MDP as N single envs, batched, on a torch device."""

import gymnasium as gym
import numpy as np
import pytest
import torch

import textgym
from textgym import TextGenVectorEnv

CASES = [
    ("textgym/Copy-v0", {}),  # tensor scorer
    ("textgym/Copy-v0", {"model": "tiny"}),  # text scorer over a BPE vocabulary
    ("textgym/Sentiment-v0", {}),
]


def single_rollouts(env_id, kwargs, prompt_indices, actions, reward_mode):
    """Run N single envs on the given prompts and action columns, resetting on done like SAME_STEP autoreset."""
    n, steps = actions.shape[1], actions.shape[0]
    envs = [gym.make(env_id, reward_mode=reward_mode, **kwargs) for _ in range(n)]
    for env, index in zip(envs, prompt_indices):
        env.reset(options={"prompt_index": int(index)})
    out = []
    for t in range(steps):
        rewards, terms, truncs, scores, texts = [], [], [], [], []
        for i, env in enumerate(envs):
            _, r, term, trunc, info = env.step(int(actions[t, i]))
            (
                rewards.append(r),
                terms.append(term),
                truncs.append(trunc),
                scores.append(info["score"]),
                texts.append(info["text"]),
            )
            if term or trunc:
                env.reset(options={"prompt_index": int(prompt_indices[i])})
        out.append((np.array(rewards), np.array(terms), np.array(truncs), np.array(scores), texts))
    return out


@pytest.mark.parametrize("arrays", ["numpy", "torch"])
@pytest.mark.parametrize("reward_mode", ["dense", "sparse"])
@pytest.mark.parametrize("env_id, kwargs", CASES)
def test_rows_match_single_envs(env_id, kwargs, reward_mode, arrays):
    n, steps = 6, 30
    vec = gym.make_vec(
        env_id,
        num_envs=n,
        vectorization_mode="vector_entry_point",
        reward_mode=reward_mode,
        device="cpu",
        arrays=arrays,
        **kwargs,
    )
    assert isinstance(vec, TextGenVectorEnv)
    rng = np.random.default_rng(0)
    vocab = vec.single_action_space.n
    eos = vec.tokenizer.eos_token_id
    actions = rng.integers(0, min(vocab, 60), size=(steps, n))
    actions[rng.random((steps, n)) < 0.08] = eos  # mixed episode lengths inside the batch
    prompt_indices = np.arange(n) * 3
    expected = single_rollouts(env_id, kwargs, prompt_indices, actions, reward_mode)
    obs, info = vec.reset(options={"prompt_index": prompt_indices})
    for t in range(steps):
        obs, rewards, terms, truncs, info = vec.step(actions[t])
        # keep the same prompts after autoreset, as the single envs do
        done = terms | truncs
        exp_rewards, exp_terms, exp_truncs, exp_scores, exp_texts = expected[t]
        np.testing.assert_allclose(rewards, exp_rewards, atol=1e-12)
        np.testing.assert_array_equal(terms, exp_terms)
        np.testing.assert_array_equal(truncs, exp_truncs)
        if done.any():
            np.testing.assert_allclose(info["final_info"]["score"][done], exp_scores[done], atol=1e-12)
            assert list(info["final_info"]["text"][done]) == [exp_texts[i] for i in np.flatnonzero(done)]
            vec._start_rows(vec.arrays.from_host(np.flatnonzero(done)), vec.arrays.from_host(prompt_indices[done]))
        live = ~done
        np.testing.assert_allclose(info["score"][live], exp_scores[live], atol=1e-12)
        assert [vec.texts()[i] for i in np.flatnonzero(live)] == [exp_texts[i] for i in np.flatnonzero(live)]
    assert vec.observation_space.contains(vec._observation())


def test_autoreset_same_step_and_final_obs():
    vec = TextGenVectorEnv(task="copy", num_envs=3, device="cpu")
    assert vec.metadata["autoreset_mode"] == gym.vector.AutoresetMode.SAME_STEP
    vec.reset(seed=0)
    obs, rewards, terms, truncs, info = vec.step(np.array([0, 2, 0]))
    assert list(terms) == [True, False, True]
    assert list(info["_final_obs"]) == [True, False, True]
    assert info["final_obs"][1] is None  # Gymnasium's layout: one observation dict per ended row
    # the final observation ends with EOS; the returned one is a fresh prompt
    for row in (0, 2):
        n = int(info["final_obs"][row]["attention_mask"].sum())
        assert info["final_obs"][row]["input_ids"][n - 1] == 0  # the final observation ends with EOS
        fresh = vec.setup.prompt_ids[info["prompt_index"][row]]  # the returned one is a fresh prompt
        assert obs["attention_mask"][row].sum() == len(fresh) and list(obs["input_ids"][row, : len(fresh)]) == list(
            fresh
        )
    assert info["num_generated"][0] == 0 and info["num_generated"][1] == 1


def test_torch_output_stays_on_device():
    vec = TextGenVectorEnv(task="copy", num_envs=4, device="cpu", output="torch")
    obs, _ = vec.reset(seed=1)
    assert isinstance(obs["input_ids"], torch.Tensor) and obs["input_ids"].device.type == "cpu"
    obs, rewards, terms, truncs, info = vec.step(torch.tensor([2, 3, 4, 5]))
    assert isinstance(rewards, torch.Tensor) and rewards.dtype == torch.float64 and terms.dtype == torch.bool


def test_seed_reproduces():
    def run():
        vec = TextGenVectorEnv(task="copy", num_envs=5, device="cpu")
        obs, _ = vec.reset(seed=11)
        out = [obs["input_ids"].copy()]
        rng = np.random.default_rng(0)
        for _ in range(20):
            obs, r, te, tr, _ = vec.step(rng.integers(0, 8, 5))
            out.append(obs["input_ids"].copy())
        return np.stack(out)

    np.testing.assert_array_equal(run(), run())


@pytest.mark.parametrize(
    "actions, message",
    [
        (np.array([1, 2, 3]), r"actions must have shape \(4,\), one token id per env, got \(3,\)"),
        (np.array([[1, 2, 3, 4]]), r"actions must have shape \(4,\)"),
        (
            np.array([1.0, 2.0, 3.0, 4.0]),
            r"actions must be integer token ids, got dtype float64; allowed: integers in \[0, 8\)",
        ),
        (
            np.array([1, 2, 8, -1]),
            r"actions out of range at env\(s\) \[2, 3\]: \[8, -1\]; allowed: integers in \[0, 8\)",
        ),
        (torch.tensor([0.5, 1, 2, 3]), r"actions must be integer token ids, got dtype torch.float32"),
    ],
)
def test_bad_batched_actions(actions, message):
    vec = TextGenVectorEnv(task="copy", num_envs=4, device="cpu")
    vec.reset(seed=0)
    with pytest.raises(ValueError, match=message):
        vec.step(actions)


def test_bad_vector_arguments():
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        TextGenVectorEnv(task="copy", num_envs=2, device="tpu")
    with pytest.raises(ValueError, match="num_envs must be a positive integer, got 0"):
        TextGenVectorEnv(task="copy", num_envs=0)
    with pytest.raises(ValueError, match=r"unknown output 'jax'; allowed: \['numpy', 'torch'\]"):
        TextGenVectorEnv(task="copy", num_envs=2, output="jax")
    with pytest.raises(textgym.EpisodeFinishedError, match="before reset"):
        TextGenVectorEnv(task="copy", num_envs=2, device="cpu").step(np.array([1, 2]))


def _collect(vec, actions, seed):
    """Everything a rollout returns, converted to numpy, step by step."""
    def host(value):
        if isinstance(value, dict):
            return {k: host(v) for k, v in value.items()}
        if isinstance(value, np.ndarray) and value.dtype == object:  # final_obs: one observation dict per ended row
            out = np.empty(len(value), dtype=object)
            out[:] = [host(v) for v in value]
            return out
        return value.cpu().numpy() if isinstance(value, torch.Tensor) else value

    out = [host(vec.reset(seed=seed))]
    for step_actions in actions:
        out.append(host(vec.step(step_actions)))
        if vec.autoreset_mode == gym.vector.AutoresetMode.DISABLED and vec.ended.any():
            out.append(host(vec.reset(options={"reset_mask": vec.ended.clone()})))
    return out


def _assert_same(a, b):
    if isinstance(a, (tuple, list)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _assert_same(x, y)
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            _assert_same(a[key], b[key])
    elif isinstance(a, np.ndarray) and a.dtype == object and any(isinstance(x, dict) for x in a):
        _assert_same(list(a), list(b))
    else:
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("output", ["numpy", "torch"])
@pytest.mark.parametrize("autoreset_mode", ["SameStep", "Disabled"])
@pytest.mark.parametrize(
    "env_id", ["textgym/Copy-v0", "textgym/Arithmetic-v0", "textgym/Sentiment-v0", "textgym/Length-v0"]
)
def test_torch_arrays_match_numpy_arrays(env_id, autoreset_mode, output):
    """The accelerator code path (torch tensors), run on the CPU, returns exactly what the numpy path does."""
    envs = [
        gym.make_vec(
            env_id,
            num_envs=5,
            vectorization_mode="vector_entry_point",
            device="cpu",
            arrays=arrays,
            output=output,
            autoreset_mode=autoreset_mode,
            max_new_tokens=6,
        )
        for arrays in ("numpy", "torch")
    ]
    assert envs[0].arrays.is_numpy and not envs[1].arrays.is_numpy
    rng = np.random.default_rng(3)
    actions = rng.integers(0, min(envs[0].single_action_space.n, 40), size=(25, 5))
    actions[rng.random(actions.shape) < 0.15] = envs[0].tokenizer.eos_token_id
    _assert_same(_collect(envs[0], actions, 7), _collect(envs[1], actions, 7))


def test_accelerator_path_keeps_mid_episode_steps_on_the_device(monkeypatch):
    """With torch arrays and torch output, a step that ends no episode copies nothing to the host."""
    vec = TextGenVectorEnv(task="copy", num_envs=4, device="cpu", arrays="torch", output="torch", max_new_tokens=8)
    vec.reset(seed=0)

    def refuse(*args, **kwargs):
        raise AssertionError("host transfer on the hot path")

    monkeypatch.setattr(torch.Tensor, "numpy", refuse)
    monkeypatch.setattr(torch.Tensor, "tolist", refuse)
    monkeypatch.setattr(torch.Tensor, "cpu", refuse)
    for token in (2, 3, 4):
        obs, rewards, terms, truncs, info = vec.step(torch.full((4,), token))
        assert isinstance(rewards, torch.Tensor) and not (terms | truncs).any()


def test_bad_array_backend():
    with pytest.raises(ValueError, match=r"unknown arrays 'jax'; allowed: \['auto', 'numpy', 'torch'\]"):
        TextGenVectorEnv(task="copy", num_envs=2, device="cpu", arrays="jax")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_state_lives_on_the_gpu():
    vec = TextGenVectorEnv(task="copy", num_envs=8, device="cuda", output="torch")
    obs, _ = vec.reset(seed=0)
    assert obs["input_ids"].is_cuda and vec.scores.is_cuda


@pytest.mark.parametrize("arrays", ["numpy", "torch"])
def test_disabled_autoreset_freezes_finished_rows_until_reset_mask(arrays):
    vec = TextGenVectorEnv(task="copy", num_envs=3, device="cpu", autoreset_mode="Disabled", arrays=arrays)
    assert vec.metadata["autoreset_mode"] == gym.vector.AutoresetMode.DISABLED
    obs0, _ = vec.reset(seed=0)
    obs, rewards, terms, truncs, info = vec.step(np.array([0, 2, 3]))
    assert list(terms) == [True, False, False] and info["text"][0] == "" and list(vec.ended) == [True, False, False]
    frozen = obs["input_ids"][0].copy()
    obs, rewards, terms, truncs, info = vec.step(np.array([4, 2, 3]))
    assert rewards[0] == 0.0 and not terms[0] and not truncs[0]
    np.testing.assert_array_equal(obs["input_ids"][0], frozen)
    obs, _ = vec.reset(options={"reset_mask": np.array([True, False, False]), "prompt_index": 5})
    assert not vec.ended.any() and info["num_generated"][1] == 2
    np.testing.assert_array_equal(obs["input_ids"][0, : len(vec.setup.prompt_ids[5])], vec.setup.prompt_ids[5])
    with pytest.raises(ValueError, match="reset_mask must be 3 booleans"):
        vec.reset(options={"reset_mask": np.array([1, 0, 0])})
    with pytest.raises(ValueError, match="unsupported autoreset_mode 'EveryStep'"):
        TextGenVectorEnv(task="copy", num_envs=1, autoreset_mode="EveryStep")
