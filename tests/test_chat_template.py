"""``chat_template=True``: prompts wrapped in the model tokenizer's chat template, scored as given."""

from __future__ import annotations

import json
import shutil

import gymnasium as gym
import numpy as np
import pytest

from textgym import Task, TextGenEnv, TextGenVectorEnv
from textgym.models.loader import BUNDLED_MODELS

TEMPLATE = (
    "{% for message in messages %}<|{{ message['role'] }}|>\n{{ message['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


@pytest.fixture(scope="module")
def chat_model(tmp_path_factory) -> str:
    """The bundled tiny model, copied, with a chat template in its tokenizer_config.json."""
    folder = tmp_path_factory.mktemp("models") / "tiny-chat"
    shutil.copytree(BUNDLED_MODELS["tiny"], folder)
    config_path = folder / "tokenizer_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["chat_template"] = TEMPLATE
    config_path.write_text(json.dumps(config, indent=2), encoding="utf-8")
    return str(folder)


def templated(text: str) -> str:
    return f"<|user|>\n{text}\n<|assistant|>\n"


def prompt_tokens(observation: dict) -> np.ndarray:
    return observation["input_ids"][observation["attention_mask"] == 1]


def test_observation_starts_with_the_templated_prompt(chat_model):
    env = gym.make("textgym/Sentiment-v0", model=chat_model, chat_template=True)
    observation, info = env.reset(seed=0)
    tokenizer = env.unwrapped.tokenizer
    ids = prompt_tokens(observation)
    assert tokenizer.backend.decode(ids.tolist(), skip_special_tokens=False) == templated(info["prompt"])
    assert ids.tolist() == tokenizer.encode(templated(info["prompt"]))
    # the prompt in info and the one the task scores are the original ones
    setup = env.unwrapped.setup
    assert setup.chat_template and info["prompt"] == setup.prompts[info["prompt_index"]].text
    assert not info["prompt"].startswith("<|user|>")
    plain = gym.make("textgym/Sentiment-v0", model=chat_model)
    plain_observation, plain_info = plain.reset(seed=0)
    assert plain_info["prompt"] == info["prompt"]
    assert len(prompt_tokens(plain_observation)) < len(ids)


def test_the_task_scores_the_continuation_against_the_original_prompt(chat_model):
    seen = []

    def score(prompt, continuation):
        seen.append(prompt.text)
        return len(continuation) / 10

    task = Task("echo", prompts=["Say hi:"], score=score, max_new_tokens=3)
    env = TextGenEnv(task=task, model=chat_model, chat_template=True)
    observation, info = env.reset(seed=0)
    tokenizer = env.tokenizer
    assert tokenizer.decode(prompt_tokens(observation)) == templated("Say hi:")
    token = tokenizer.encode(" hi")[0]
    _, reward, _, _, info = env.step(token)
    assert info["prompt"] == "Say hi:" and set(seen) == {"Say hi:"}
    assert reward == pytest.approx(len(info["text"]) / 10)


def test_single_and_batched_envs_agree(chat_model):
    single = TextGenEnv(task="sentiment", model=chat_model, chat_template=True)
    batched = TextGenVectorEnv(task="sentiment", num_envs=3, model=chat_model, chat_template=True)
    assert batched.single_observation_space == single.observation_space
    observations, infos = batched.reset(seed=[0, 1, 2])
    for row, seed in enumerate((0, 1, 2)):
        observation, info = single.reset(seed=seed)
        assert infos["prompt_index"][row] == info["prompt_index"]
        np.testing.assert_array_equal(observations["input_ids"][row], observation["input_ids"])
        np.testing.assert_array_equal(observations["attention_mask"][row], observation["attention_mask"])
    vector = gym.make_vec(
        "textgym/Sentiment-v0",
        num_envs=2,
        vectorization_mode="vector_entry_point",
        model=chat_model,
        chat_template=True,
    )
    assert vector.setup.chat_template


def test_both_splits_are_templated_so_the_observation_length_fits_them(chat_model):
    train = TextGenEnv(task="qa", model=chat_model, chat_template=True, split="train")
    evaluation = TextGenEnv(task="qa", model=chat_model, chat_template=True, split="eval")
    assert train.observation_space == evaluation.observation_space
    longest = max(
        len(train.tokenizer.encode(templated(p.text))) for split in ("train", "eval") for p in train.task.prompts(split)
    )
    assert train.setup.max_prompt_tokens == longest


def test_a_tokenizer_without_a_template_is_a_clear_error():
    with pytest.raises(ValueError, match=r"chat_template=True, but the tokenizer of model 'tiny' has no chat template"):
        gym.make("textgym/Sentiment-v0", model="tiny", chat_template=True)
    with pytest.raises(ValueError, match=r"the tokenizer of model 'tiny' has no chat template"):
        TextGenVectorEnv(task="sentiment", num_envs=2, chat_template=True)


@pytest.mark.parametrize("env_id", ["textgym/Copy-v0", "textgym/Reverse-v0", "textgym/Arithmetic-v0"])
def test_a_task_with_its_own_vocabulary_is_a_clear_error(env_id):
    with pytest.raises(
        ValueError,
        match=r"chat_template=True needs a model's tokenizer, but task '\w+' brings its own symbol vocabulary",
    ):
        gym.make(env_id, chat_template=True)


def test_chat_template_must_be_a_bool(chat_model):
    with pytest.raises(ValueError, match=r"chat_template must be True or False, got 'yes'"):
        gym.make("textgym/Sentiment-v0", model=chat_model, chat_template="yes")


def test_the_default_is_off():
    env = TextGenEnv(task="sentiment")
    assert env.setup.chat_template is False
    _, info = env.reset(seed=0)
    assert env.tokenizer.decode(prompt_tokens(env.reset(seed=0)[0])) == info["prompt"]
