"""Each task's calibration on its eval split: where the random policy, the bundled model and a perfect answer score.

For an env id, on every eval prompt once:

- ``random``: the mean final score of uniform random token ids (``passes`` passes over the split);
- ``greedy`` and ``sampled``: the env's own language model (the bundled ``"tiny"`` by default) decoding greedily,
  and sampling at temperature 1 from its full distribution; ``None`` for tasks with their own symbol vocabulary;
- ``reference``: the top of the task's score range, what a perfect answer scores (a task with references scores 1
  on them).

**Normalised score** = ``(score - random) / (reference - random)``: the random policy is 0, a perfect answer 1.
The numbers ship in ``textgym/tasks/data/calibration.json`` (``textgym info ID`` prints them without recomputing);
``python -m textgym.calibration`` rewrites that file, seeded, and prints the table.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

CALIBRATION_FILE = Path(__file__).resolve().parent / "tasks" / "data" / "calibration.json"
#: the band the bundled model's normalised greedy score lies in on a language task: a foothold, and headroom
BAND = (0.05, 0.6)
#: the seven language tasks
LANGUAGE_TASKS = ("Sentiment", "Keywords", "Coherence", "Translate", "QA", "Dialogue", "Length")
#: the language tasks the band applies to, in the world's latest version (v2: the model that learnt its skills)
BAND_IDS = tuple(f"textgym/{name}-v2" for name in LANGUAGE_TASKS)


@dataclass(frozen=True)
class Calibration:
    """One env id's calibration (see the module docstring); scores are means over the eval split."""

    env_id: str
    model: str | None
    random: float
    greedy: float | None
    sampled: float | None
    #: the top of the score range; ``None`` for a score without one (a reward model's logit)
    reference: float | None
    eval_prompts: int
    seed: int

    def normalised(self, score: float) -> float | None:
        """``(score - random) / (reference - random)``: random = 0, reference = 1 (``None`` without a reference)."""
        return None if self.reference is None else (score - self.random) / (self.reference - self.random)

    @property
    def greedy_normalised(self) -> float | None:
        return None if self.greedy is None else self.normalised(self.greedy)

    def describe(self) -> str:
        """The lines ``textgym info`` prints."""
        lines = [f"Calibration on the eval split ({self.eval_prompts} prompts, seed {self.seed}; "
                 "normalised = (score - random) / (reference - random)):",
                 f"  random policy:   {self.random:.3f}"]
        if self.greedy is not None:
            lines.append(f"  {self.model} greedy:  {self.greedy:.3f}{self._normalised_text(self.greedy)}")
            lines.append(f"  {self.model} sampled: {self.sampled:.3f}{self._normalised_text(self.sampled)}")
        reference = "none (the score has no top)" if self.reference is None else f"{self.reference:.3f}"
        lines.append(f"  reference:       {reference}")
        return "\n".join(lines)

    def _normalised_text(self, score: float) -> str:
        normalised = self.normalised(score)
        return "" if normalised is None else f" (normalised {normalised:.2f})"


def load_calibrations(path: Path = CALIBRATION_FILE) -> dict[str, Calibration]:
    """Every shipped calibration, by env id (empty when the file is missing)."""
    if not path.is_file():
        return {}
    return {env_id: Calibration(**fields) for env_id, fields in json.loads(path.read_text()).items()}


def calibration_for(env_id: str) -> Calibration | None:
    """The shipped calibration of ``env_id``, or ``None``."""
    return load_calibrations().get(env_id)


def markdown_table(calibrations: dict[str, Calibration]) -> str:
    """The README's calibration table: one row per id, in id order."""
    def number(value: float | None) -> str:
        return "–" if value is None else f"{value:.3f}"

    def normalised(c: Calibration, value: float | None) -> str:
        result = None if value is None else c.normalised(value)
        return "–" if result is None else f"{result:.2f}"

    rows = ["| id | model | random | greedy | sampled | reference | greedy, normalised | sampled, normalised |",
            "|---|---|---|---|---|---|---|---|"]
    for env_id in sorted(calibrations):
        c = calibrations[env_id]
        rows.append(f"| `{env_id}` | {c.model or 'symbols'} | {number(c.random)} | {number(c.greedy)} | "
                    f"{number(c.sampled)} | {number(c.reference)} | {normalised(c, c.greedy)} | "
                    f"{normalised(c, c.sampled)} |")
    return "\n".join(rows)


README_START, README_END = "<!-- calibration table: start -->", "<!-- calibration table: end -->"


def readme_with_table(readme: str, calibrations: dict[str, Calibration]) -> str:
    """``readme`` with the text between the calibration markers replaced by :func:`markdown_table`."""
    start, end = readme.index(README_START) + len(README_START), readme.index(README_END)
    return readme[:start] + "\n" + markdown_table(calibrations) + "\n" + readme[end:]


# -- measuring -----------------------------------------------------------------------------------------------------


def _random_policy(seed: int):
    rng = np.random.default_rng(seed)

    def act(observation, env) -> np.ndarray:
        return rng.integers(env.single_action_space.n, size=env.num_envs)

    return act


def _lm_policy(model_name: str, device: str, greedy: bool, seed: int):
    """The env's language model over the whole observation (right-padded): argmax or a temperature-1 sample."""
    from textgym.models.loader import load_frozen

    lm = load_frozen(model_name, device)
    generator = torch.Generator(device=lm.device).manual_seed(seed)
    # a BOS before the prompt, as the LM agents feed it (prepend_bos): the model's own, else its EOS
    bos = getattr(lm.model.config, "bos_token_id", None)
    bos = bos if isinstance(bos, int) else lm.tokenizer.eos_token_id

    @torch.no_grad()
    def act(observation, env) -> np.ndarray:
        ids = torch.as_tensor(np.asarray(observation["input_ids"]), device=lm.device)
        mask = torch.as_tensor(np.asarray(observation["attention_mask"]), device=lm.device)
        ids = torch.cat([torch.full_like(ids[:, :1], bos), ids], dim=1)
        mask = torch.cat([torch.ones_like(mask[:, :1]), mask], dim=1)
        logits = lm.model(input_ids=ids, attention_mask=mask).logits.float()
        last = logits[torch.arange(len(ids), device=lm.device), mask.sum(-1) - 1]
        if greedy:
            tokens = last.argmax(-1)
        else:
            tokens = torch.multinomial(torch.softmax(last, dim=-1), 1, generator=generator)[:, 0]
        return tokens.cpu().numpy()

    return act


def calibrate(env_id: str, seed: int = 0, passes: int = 4, device: str = "cpu") -> Calibration:
    """Measure ``env_id``'s calibration (see the module docstring)."""
    import gymnasium as gym

    from textgym.evaluation import evaluate_episodes

    env = gym.make(env_id)
    setup, task = env.unwrapped.setup, env.unwrapped.task
    env.close()
    model = setup.model
    count = len(task.prompts("eval"))

    def mean_score(policy) -> float:
        # the env's task object, built once, serves every evaluation env
        return evaluate_episodes(policy, env_id, {"task": task}, device, batch_size=count, naturalness=False).mean

    random_score = float(np.mean([mean_score(_random_policy(seed + k)) for k in range(passes)]))
    greedy = sampled = None
    if model is not None:
        greedy = mean_score(_lm_policy(model, device, greedy=True, seed=seed))
        sampled = mean_score(_lm_policy(model, device, greedy=False, seed=seed))
    top = float(task.score_range[1])
    return Calibration(env_id=env_id, model=model, random=random_score, greedy=greedy, sampled=sampled,
                       reference=top if np.isfinite(top) else None, eval_prompts=count, seed=seed)


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m textgym.calibration [--ids ID ...] [--seed 0] [--passes 4]``: measure, print, write the file;
    ``--readme README.md``: rewrite the README's calibration table from the file."""
    import textgym

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--ids", nargs="*", help="env ids (default: every registered id but TextGenEnv)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--passes", type=int, default=4, help="passes of the random policy over the eval split")
    parser.add_argument("--out", type=Path, default=CALIBRATION_FILE)
    parser.add_argument("--readme", type=Path, help="rewrite this README's calibration table from the file, measure "
                        "nothing")
    args = parser.parse_args(argv)
    if args.readme:
        args.readme.write_text(readme_with_table(args.readme.read_text(), load_calibrations(args.out)))
        return
    ids = args.ids or [env_id for env_id in textgym.env_ids() if "TextGenEnv" not in env_id]
    calibrations = load_calibrations(args.out)
    for env_id in ids:
        calibrations[env_id] = calibrate(env_id, seed=args.seed, passes=args.passes)
        c = calibrations[env_id]
        print(f"{env_id}:", c.describe().split(":", 1)[1].replace("\n", ";"), flush=True)
    ordered = {env_id: asdict(calibrations[env_id]) for env_id in sorted(calibrations)}
    args.out.write_text(json.dumps(ordered, indent=1) + "\n")


if __name__ == "__main__":
    main()
