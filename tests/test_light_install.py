"""The core install (``pip install textgym``, no extras) runs the environments and the CLI's own commands.

The optional modules are made unimportable in a child process, as they are when not installed:
``sys.modules[name] = None`` makes ``import name`` raise ``ModuleNotFoundError`` and
``importlib.util.find_spec(name)`` return ``None``. (A ``sys.meta_path`` finder that raises
cannot do the second: transformers probes ``find_spec("peft")`` and friends while loading a
model, and a raising finder would break that probe where a real missing package does not.)

pyyaml is a dependency of transformers (and huggingface_hub), so every install has it: it is
blocked only while ``import textgym`` runs, which must not need it.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: what the core install does not have (import names)
OPTIONAL = ["stable_baselines3", "sb3_contrib", "tensorboard", "matplotlib", "scipy", "peft"]
#: the packages of the extras, none of which may be a core dependency
EXTRA_PACKAGES = {"stable-baselines3", "sb3-contrib", "tensorboard", "matplotlib", "pyyaml", "scipy", "peft", "tqdm"}

BLOCK = """
import sys
for name in {blocked!r}:
    sys.modules[name] = None  # as if not installed

def loaded(names):
    return sorted(m for m in list(sys.modules) if sys.modules[m] is not None and m.partition(".")[0] in names)
"""


def run_child(code: str, blocked: list[str] = OPTIONAL, timeout: float = 120) -> subprocess.CompletedProcess:
    """``code`` in a new interpreter in which the ``blocked`` modules cannot be imported."""
    return subprocess.run([sys.executable, "-c", BLOCK.format(blocked=blocked) + textwrap.dedent(code)], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def test_environments_work_without_the_extras():
    code = """
        import textgym

        assert not loaded({*OPTIONAL, "yaml", "textgym_agents"}), loaded({*OPTIONAL, "yaml", "textgym_agents"})
        del sys.modules["yaml"]  # transformers' own dependency: loading a model may import it

        import gymnasium as gym
        from gymnasium.utils.env_checker import check_env

        ids = textgym.env_ids()
        for env_id in ids:
            env = gym.make(env_id)
            env.reset(seed=0)
            env.step(env.action_space.sample())
            env.close()
        # every render mode too, rgb_array included (Pillow, without matplotlib's font); the two ids whose
        # check takes seconds (a judge or a reward model scoring each of its makes) ran make/reset/step above
        checked = [env_id for env_id in ids if env_id not in ("textgym/Coherence-v0", "textgym/SentimentRM-v0")]
        for env_id in checked:
            env = gym.make(env_id)
            check_env(env.unwrapped)
            env.close()
        assert not loaded({*OPTIONAL, "textgym_agents"}), loaded({*OPTIONAL, "textgym_agents"})
        print("CHECKED", len(ids), len(checked))
    """.replace("OPTIONAL", repr(OPTIONAL))
    result = run_child(code, blocked=OPTIONAL + ["yaml"], timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    assert re.search(r"CHECKED (\d+) (\d+)", result.stdout), result.stdout[-2000:]


def test_cli_without_the_extras_names_the_extra_in_one_line(tmp_path):
    """``train`` and ``bench`` name the missing extra in one line; ``list`` and lm-ppo need none."""
    code = f"""
        import contextlib, io, json
        from textgym.cli import main

        def run(*argv):
            out, err = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = main(list(argv))
            return {{"argv": argv, "code": code, "stdout": out.getvalue(), "stderr": err.getvalue()}}

        results = [
            run(
                "train", "--agent", "sb3-ppo", "--env", "textgym/Copy-v0", "--out", {str(tmp_path / "run")!r},
                "--steps", "8",
            ),
            run("train", "--agent", "sb3-maskable-ppo", "--help-agent"),
            run("train", "--agent", "lm-ppo", "--help-agent"),
            run("bench", "--suite", "quick", "--out", {str(tmp_path / "bench")!r}),
            run("list"),
        ]
        try:
            import textgym_agents.sb3
        except ModuleNotFoundError as error:
            results.append({{"import_agents_sb3": str(error), "type": type(error).__name__}})
        assert not loaded(OPTIONAL), loaded(OPTIONAL)
        print("RESULTS" + json.dumps(results))
    """
    result = run_child(code.replace("OPTIONAL", repr(OPTIONAL)))
    assert result.returncode == 0, result.stderr[-3000:]
    train, maskable, lm_ppo, bench, listing, sb3_import = json.loads(result.stdout.split("RESULTS", 1)[1])
    for outcome, message in [
        (
            train,
            "textgym train: error: the sb3-ppo agent needs stable-baselines3, which is not installed: "
            'pip install "textgym[agents]"',
        ),
        (
            maskable,
            "textgym train: error: the sb3-maskable-ppo agent needs stable-baselines3, which is not installed: "
            'pip install "textgym[agents]"',
        ),
        (
            bench,
            'textgym bench: error: textgym bench needs scipy, which is not installed: pip install "textgym[bench]"',
        ),
    ]:
        assert outcome["code"] == 2, outcome
        assert outcome["stderr"].strip() == message, outcome
        assert "Traceback" not in outcome["stderr"] + outcome["stdout"]
    assert not (tmp_path / "run").exists() and not (tmp_path / "bench").exists()  # nothing started
    # lm-ppo needs only the core (torch, transformers)
    assert lm_ppo["code"] == 0 and "hyper-parameters of lm-ppo" in lm_ppo["stdout"], lm_ppo
    assert listing["code"] == 0 and "textgym/Copy-v0" in listing["stdout"], listing
    assert sb3_import == {"import_agents_sb3": 'textgym_agents.sb3 needs stable-baselines3, which is not installed: '
                                               'pip install "textgym[agents]"', "type": "MissingExtraError"}


def test_require_names_the_extra_or_lets_a_broken_install_show(tmp_path, monkeypatch):
    from textgym.extras import MissingExtraError, require

    with pytest.raises(MissingExtraError, match=r'^the thing needs textgym_no_such_module, which is not installed: '
                                                r'pip install "textgym\[bench\]"$'):
        require("textgym_no_such_module", "bench", "the thing")
    assert require("json", "bench", "the thing") is sys.modules["json"]
    # the module is there but one of its own imports is missing: that error, as it is
    (tmp_path / "textgym_broken_module.py").write_text("import textgym_missing_dependency\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError) as caught:
        require("textgym_broken_module", "bench", "the thing")
    assert not isinstance(caught.value, MissingExtraError) and caught.value.name == "textgym_missing_dependency"


def _pyproject() -> dict:
    tomllib = pytest.importorskip("tomllib")
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def _requirements(specs: list[str]) -> dict:
    from packaging.requirements import Requirement

    parsed = [Requirement(spec) for spec in specs]
    return {re.sub(r"[-_.]+", "-", r.name).lower(): r for r in parsed}


def test_core_dependencies_hold_no_extra_package_and_pin_vader():
    project = _pyproject()
    core = _requirements(project["dependencies"])
    assert not EXTRA_PACKAGES & set(core), EXTRA_PACKAGES & set(core)
    assert {"gymnasium", "numpy", "torch", "transformers", "tokenizers", "safetensors", "vadersentiment"} <= set(core)
    # textgym/tasks/vader_incremental.py mirrors vaderSentiment 3.3's internals
    assert str(core["vadersentiment"].specifier) == "==3.3.*"


def test_extras_install_what_the_code_asks_for():
    from textgym.extras import DISTRIBUTIONS
    from textgym_agents.bench.cli import BENCH_MODULES
    from textgym_agents.registry import AGENT_REQUIREMENTS

    extras = {name: _requirements(specs) for name, specs in _pyproject()["optional-dependencies"].items()}
    wanted = {(module, extra) for needs in AGENT_REQUIREMENTS.values() for module, extra in needs}
    wanted |= {(module, "bench") for module in BENCH_MODULES} | {("tensorboard", "agents"), ("peft", "peft")}
    for module, extra in sorted(wanted):
        package = DISTRIBUTIONS.get(module, module).lower()
        assert package in extras[extra], (module, extra, sorted(extras[extra]))
    # dev is everything: the extras, and the test tools
    dev = extras["dev"]
    assert set(dev["textgym"].extras) == {"agents", "bench", "peft"}
    assert {"pytest", "hypothesis", "datasets"} <= set(dev)
    assert "clients" in extras
