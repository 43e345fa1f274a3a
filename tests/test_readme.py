"""The README's code examples run as written."""

import json
import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def python_blocks(section: str) -> list[str]:
    text = README.read_text()
    body = text.split(f"## {section}", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", body, flags=re.S)


def test_custom_task_example_runs_and_is_short():
    (block,) = python_blocks("Custom tasks")
    assert len(block.strip().splitlines()) <= 15
    namespace = {}
    exec(compile(block, "README custom task", "exec"), namespace)
    assert namespace["info"]["prompt"] in {"Ask for the salt:", "Ask for a pen:"}
    assert namespace["env"].unwrapped.task.name == "polite"


def test_quickstart_example_runs():
    (block,) = python_blocks("Quickstart")
    exec(compile(block, "README quickstart", "exec"), {})


def test_from_python_example_runs(tmp_path, monkeypatch):
    """The API snippet as written, at a smaller size (fewer steps and rows, shorter episodes): each call writes
    what its comment says."""
    from textgym_agents.run import RunDirectory

    (block,) = python_blocks("From Python")
    small = {"total_env_steps=4096": "total_env_steps=16", "total_env_steps=8192": "total_env_steps=32",
             "num_envs=16": "num_envs=4", "max_new_tokens=16": "max_new_tokens=4"}
    for written, smaller in small.items():
        assert block.count(written) == 1, written
        block = block.replace(written, smaller)
    monkeypatch.chdir(tmp_path)
    namespace = {}
    exec(compile(block, "README From Python", "exec"), namespace)
    namespace["model"].close()
    run = json.loads((tmp_path / "runs" / "ppo" / "run.json").read_text())
    assert (run["agent"], run["env_id"], run["steps"], run["env_kwargs"]) == ("lm-ppo", "textgym/Sentiment-v0", 32,
                                                                           {"max_new_tokens": 4})
    assert run["hyperparameters"]["learning_rate"] == 1e-5
    first = RunDirectory.read_metrics_of(tmp_path / "runs" / "ppo-copy")
    rows = RunDirectory.read_metrics_of(tmp_path / "runs" / "ppo")
    assert first[-1]["env_steps"] >= 16 and rows[-1]["env_steps"] >= 32 and rows[: len(first)] == first
    assert (tmp_path / "runs" / "ppo-copy" / "policy" / "config.json").is_file()


def bash_blocks(section: str) -> list[str]:
    text = README.read_text()
    body = text.split(f"## {section}", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.*?)```", body, flags=re.S)


def test_reward_model_recipe_runs_with_local_stand_ins(tmp_path, monkeypatch):
    """The network recipe as written, with the hub names swapped for local stand-ins of the same kind:
    the bundled LM for gpt2, a local BERT classifier (labels NEGATIVE/POSITIVE) for lvwerra/distilbert-imdb,
    and an in-memory DatasetDict for IMDb."""
    datasets = __import__("pytest").importorskip("datasets")
    from test_reward_model import save_bert_classifier

    classifier = save_bert_classifier(tmp_path / "imdb-classifier")
    config = (tmp_path / "imdb-classifier" / "config.json")
    config.write_text(config.read_text().replace('"negative"', '"NEGATIVE"').replace('"positive"', '"POSITIVE"'))
    reviews = [f"review number {i} of a film that was good and the room was bad and it is not very" for i in range(600)]
    imdb = datasets.DatasetDict({"train": datasets.Dataset.from_dict({"text": reviews}),
                                 "test": datasets.Dataset.from_dict({"text": reviews[::-1]})})
    monkeypatch.setattr(datasets, "load_dataset", lambda name: imdb)
    monkeypatch.chdir(tmp_path)
    (block,) = python_blocks("Your own model and reward model")
    assert '"gpt2"' in block and '"lvwerra/distilbert-imdb"' in block
    block = block.replace('"gpt2"', '"tiny"').replace('"lvwerra/distilbert-imdb"', repr(classifier))
    namespace = {}
    exec(compile(block, "README reward-model recipe", "exec"), namespace)
    env = namespace["env"]
    _, info = env.reset(seed=0)
    assert info["prompt"].startswith("review number") and info["score"] != 0.0
    assert len(env.unwrapped.task.prompts("train")) == 500 and len(env.unwrapped.task.prompts("eval")) == 500
    env.step(env.action_space.sample())


def test_sentiment_rm_miniature_commands_run(tmp_path, monkeypatch):
    """The offline miniature's train command (fewer steps) writes a policy that play and AutoModelForCausalLM load."""
    import shlex

    from transformers import AutoModelForCausalLM

    from textgym.cli import main as textgym_main

    blocks = bash_blocks("Your own model and reward model")
    train_line, play_line = blocks[-1].strip().splitlines()
    argv = shlex.split(train_line)[2:]
    assert argv[:2] == ["--agent", "lm-ppo"] and "textgym/SentimentRM-v1" in argv
    argv[argv.index("--steps") + 1] = "32"
    argv[argv.index("--out") + 1] = str(tmp_path / "srm")
    assert textgym_main(["train", *argv, "--num-envs", "4", "--eval-every", "32", "--no-progress"]) in (0, None)
    AutoModelForCausalLM.from_pretrained(tmp_path / "srm" / "policy")
    assert shlex.split(play_line)[-2:] == ["--model", "runs/srm/policy"]


def test_use_with_snippets_run(tmp_path):
    """Every "Use with" snippet runs as written: in this process, or (torchrl, which spawns workers) as a script."""
    import importlib.util
    import subprocess
    import sys

    import pytest

    blocks = python_blocks("Use with other RL libraries")
    assert len(blocks) == 5
    ran = []
    for block in blocks:
        library = next((lib for lib in ("stable_baselines3", "torchrl", "tianshou") if lib in block), "gymnasium")
        if importlib.util.find_spec(library) is None:
            continue
        if library == "torchrl":
            script = tmp_path / "torchrl_snippet.py"
            script.write_text(block)
            done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
            assert done.returncode == 0, done.stderr[-2000:]
        else:
            namespace = {"__name__": "readme_snippet"}
            exec(compile(block, f"README Use with ({library})", "exec"), namespace)
        ran.append(library)
    assert "stable_baselines3" in ran and ran.count("gymnasium") == 2
    if len(ran) < 5:
        pytest.skip(f"ran {len(ran)} of 5 snippets: {sorted(set(['torchrl', 'tianshou']) - set(ran))} not installed")
