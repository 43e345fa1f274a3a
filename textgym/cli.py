"""The ``textgym`` command line: ``list``, ``info ID``, ``play ID``, ``train``, ``bench``, ``demo``."""

from __future__ import annotations

import argparse
import inspect
import os
import sys
from collections.abc import Sequence
from contextlib import nullcontext

import gymnasium as gym
import torch

import textgym
from textgym.calibration import calibration_for
from textgym.quiet_loading import quiet_model_loading
from textgym.registration import CONVERSATION_ID, GENERIC_ID, env_ids
from textgym.tasks import TASKS


class CommandError(Exception):
    """A command-line argument is wrong; printed as one line with exit code 2."""


#: set to 1 to see the full traceback of any error instead of the one-line message
DEBUG_VARIABLE = "TEXTGYM_DEBUG"


def _debug() -> bool:
    return os.environ.get(DEBUG_VARIABLE, "").strip().lower() not in ("", "0", "false", "no")


def _user_errors() -> tuple[type[BaseException], ...]:
    """The exceptions that mean the input or the setting is wrong: one line, exit code 2.

    Every textgym error about input (``TaskError``, ``ModelNotFoundError``, ``RunConfigError``,
    ``CheckpointError``, ``SuiteConfigError``, ...) is a ``ValueError``; gymnasium's id errors,
    a ``KeyError`` of a lookup by name, an ``OSError`` (a missing file, a folder that cannot be
    written) and a ``RuntimeError`` (a loss that went non-finite, out of memory, a launch
    without a process group) are the rest, with ``MissingExtraError`` (a command that needs an
    optional extra that is not installed: the message names it). Anything else is a bug: see :func:`main`.
    """
    from gymnasium import error as gym_error

    from textgym.extras import MissingExtraError

    return (CommandError, MissingExtraError, ValueError, KeyError, OSError, RuntimeError, gym_error.Error)


def _error_text(error: BaseException) -> str:
    if isinstance(error, KeyError) and len(error.args) == 1 and isinstance(error.args[0], str):
        return error.args[0]  # str() of a KeyError would quote it
    return str(error).strip() or type(error).__name__


def _task_for(env_id: str):
    if env_id == GENERIC_ID:
        return TASKS["sentiment"][0]
    if env_id == CONVERSATION_ID:
        from textgym.conversation import ConversationTask

        return ConversationTask
    for task_class, task_env_id in TASKS.values():
        if task_env_id == env_id:
            return task_class
    raise CommandError(f"unknown environment id {env_id!r}; registered: {', '.join([*env_ids(), CONVERSATION_ID])}")


def _documentation(env_id: str) -> str:
    """The Gymnasium-style docstring of ``env_id``: its task's, or (a conversation) its environment's."""
    if env_id == CONVERSATION_ID:
        from textgym.conversation import ConversationEnv

        return ConversationEnv.__doc__ or ""
    return _task_for(env_id).__doc__ or ""


def format_table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def list_table() -> str:
    rows = [("id", "the agent must", "score range", "horizon", "rewards")]
    rows.append((GENERIC_ID, "any task: pass task=NAME or a textgym.Task", "task's", "task's", "dense | sparse"))
    for task_class, env_id in TASKS.values():
        task = task_class()
        low, high = task.score_range
        rows.append((env_id, task.description, f"[{low:g}, {high:g}]", str(task.max_new_tokens), "dense | sparse"))
    conversation = _task_for(CONVERSATION_ID)()
    low, high = conversation.score_range
    rows.append((CONVERSATION_ID, conversation.description, f"[{low:g}, {high:g}]",
                 f"{conversation.max_new_tokens} (agent + user)", "dense | turn | sparse"))
    return format_table(rows)


def format_episode(record) -> str:
    lines = [f"prompt: {record.prompt!r}", "step  token              instant reward"]
    for t, (token, reward) in enumerate(zip(record.tokens, record.rewards)):
        lines.append(f"{t:>4}  {token!r:<18} {reward:+.4f}")
    end = f"terminated ({record.end_reason})" if record.terminated else "truncated (outer time limit)"
    lines.append(f"text: {record.text!r}")
    lines.append(f"score {record.score:+.4f} = sum of instant rewards {record.episode_return:+.4f}; {end}")
    return "\n".join(lines)


def cmd_list(args) -> int:
    print(list_table())
    return 0


def cmd_info(args) -> int:
    """An environment's documentation, its train and eval prompt counts, and one sample episode."""
    from textgym.episodes import run_episode

    _task_for(args.id)
    print(f"{args.id}\n")
    print(inspect.cleandoc(_documentation(args.id)))
    env = gym.make(args.id, reward_mode="dense")
    task = env.unwrapped.task
    print(f"\nPrompts: {len(task.prompts('train'))} train, {len(task.prompts('eval'))} eval "
          f"(your own: task_kwargs={{'prompts': 'FILE.jsonl'}}, a .csv, a .txt or a list)")
    calibration = calibration_for(args.id)
    if calibration is not None:
        print("\n" + calibration.describe() + "\n(python -m textgym.calibration measures it again)")
    print("\nOne sample episode (the task's model sampling, dense rewards):")
    print(format_episode(run_episode(env, seed=args.seed)))
    return 0


def cmd_demo(args) -> int:
    from textgym.episodes import run_episode

    for env_id in args.ids:  # every id checked before anything is printed
        _task_for(env_id)
    print(list_table())
    for env_id in args.ids:
        for mode in ("dense", "sparse"):
            env = gym.make(env_id, reward_mode=mode, render_mode="ansi")
            record = run_episode(env, seed=args.seed)
            print(f"\n== {env_id}, reward_mode={mode}, seed={args.seed}")
            print(env.render())
            print(format_episode(record))
    return 0


def check_model_argument(model: str) -> str:
    """``--model``: a local model folder (``save_pretrained``, e.g. a run's ``DIR/policy``), a bundled or a hub name.

    A path that exists must be a folder with ``config.json``; one that does not exist and
    cannot be a hub name (``org/name``) is a clear error here rather than a failed download.
    """
    from pathlib import Path

    path = Path(model).expanduser()
    if path.exists():
        if not path.is_dir():
            raise CommandError(
                f"--model {model}: is a file; give a model folder (written by save_pretrained, e.g. a run's OUT/policy)"
            )
        if not (path / "config.json").is_file():
            raise CommandError(f"--model {model}: folder has no config.json, so it is not a Hugging Face model "
                               f"(a trained lm-ppo run keeps its policy in OUT/policy)")
        return str(path)
    if model.startswith((".", "/", "~")) or model.count("/") > 1 or model.endswith("/"):
        raise CommandError(f"--model {model}: no such folder")
    return model


def symbol_vocabulary(tokenizer) -> str | None:
    """The symbols of a task's own one-character vocabulary, in id order; ``None`` for a model's vocabulary."""
    if not getattr(tokenizer, "single_character_tokens", False):
        return None
    special = {tokenizer.eos_token_id, tokenizer.pad_token_id}
    vocab = tokenizer.backend.get_vocab(with_added_tokens=True)
    return "".join(token for token, index in sorted(vocab.items(), key=lambda item: item[1]) if index not in special)


def first_token(tokenizer, text: str) -> tuple[int | None, str]:
    """The first token of ``text`` (what typed text plays), or ``(None, why not)``."""
    symbols = symbol_vocabulary(tokenizer)
    if symbols is not None:
        unknown = list(dict.fromkeys(c for c in text if c not in symbols))
        if unknown or not text:
            what = (f"{', '.join(map(repr, unknown))} {'is' if len(unknown) == 1 else 'are'} not in" if unknown
                    else "empty text has no token in")
            return None, f"{what} this task's vocabulary; its symbols are: {' '.join(symbols)}"
    try:
        ids = tokenizer.encode(text) if text else []
    except Exception as error:  # a tokenizer without an unknown token refuses text it cannot split
        return None, f"the vocabulary cannot encode {text!r} ({error})"
    if not ids:
        return None, f"cannot make a token of {text!r}"
    return ids[0], ""


def cmd_play(args, stdin=None, stdout=None) -> int:
    """A person plays the MDP: pick one of the model's top candidates by number, or type text.

    With ``args.model`` (``--model``) the environment uses that model: its vocabulary, and its
    top candidates are shown (e.g. a trained lm-ppo policy, ``OUT/policy``).
    """
    stdin = stdin or sys.stdin
    out = stdout or sys.stdout
    _task_for(args.id)
    if args.top < 1:
        raise CommandError(f"--top must be >= 1, got {args.top}")
    model = getattr(args, "model", None)
    kwargs = {} if model is None else {"model": check_model_argument(model)}
    env = gym.make(args.id, reward_mode=args.reward_mode, **kwargs)
    base = env.unwrapped
    tokenizer = base.tokenizer
    lm_policy = None
    if base.setup.model is not None:
        from textgym.episodes import LanguageModelPolicy

        lm_policy = LanguageModelPolicy(base.setup.model)
    observation, info = env.reset(seed=args.seed)
    print(f"{args.id} (reward_mode={args.reward_mode}). Enter a number to pick a candidate, any other text to "
          f"use its first token, '/eos' to end, '/quit' to stop.", file=out)
    symbols = symbol_vocabulary(tokenizer)
    if symbols is not None:
        print(f"this task's vocabulary: {' '.join(symbols)} (and EOS)", file=out)
    print(f"prompt: {info['prompt']}", file=out)
    total = 0.0
    while True:
        if lm_policy is not None:
            logits = lm_policy.next_token_logits(observation)
            candidates = torch.topk(torch.softmax(logits, -1), min(args.top, logits.shape[-1])).indices.tolist()
        else:
            special = (tokenizer.eos_token_id, tokenizer.pad_token_id)
            candidates = [i for i in range(base.action_space.n) if i not in special][: args.top]
        print(f"text so far: {info['text']!r}", file=out)
        print(
            "candidates: " + "  ".join(f"[{i}] {tokenizer.token_string(c)!r}" for i, c in enumerate(candidates)),
            file=out,
        )
        print("> ", end="", file=out, flush=True)
        line = stdin.readline()
        if not line:
            print("\nend of input: stopped", file=out)
            return 0
        choice = line.rstrip("\r\n")
        if choice.strip() == "/quit":
            print("stopped", file=out)
            return 0
        if choice.strip() == "/eos":
            action = tokenizer.eos_token_id
        elif choice.strip().isdecimal() and int(choice) < len(candidates):
            action = candidates[int(choice)]
        else:
            action, problem = first_token(tokenizer, choice)
            if action is None:
                print(f"{problem}; pick a number in [0, {len(candidates)}), type text, '/eos' or '/quit'", file=out)
                continue
        observation, reward, terminated, truncated, info = env.step(action)
        total += reward
        print(
            f"token {tokenizer.token_string(action)!r}: instant reward {reward:+.4f}, return so far {total:+.4f}",
            file=out,
        )
        if terminated or truncated:
            print(
                f"episode over ({info.get('end_reason') or 'outer time limit'}): text {info['text']!r}, "
                f"score {info['score']:+.4f}",
                file=out,
            )
            return 0


def cmd_train(args: argparse.Namespace) -> int:
    """``textgym train``: the run its arguments ask for, trained through the Python API (:mod:`textgym_agents.api`),
    which writes the run folder; the summary is printed as JSON."""
    import json

    from textgym_agents.api import Learner
    from textgym_agents.train import describe_hyperparameters, run_from_args

    if args.help_agent:
        print(describe_hyperparameters(args.agent))
        return 0
    run, resume = run_from_args(args)
    with Learner.from_run_config(run, resume=resume) as model:
        model.learn(progress=not args.no_progress)
    print(json.dumps(model.summary, indent=2))
    return 0


def seed_argument(text: str) -> int:
    """``--seed``: an integer >= 0 (what ``reset(seed=...)`` takes), refused by argparse otherwise."""
    try:
        seed = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if seed < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {seed}")
    return seed


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="textgym", description="Text generation as a Gymnasium MDP.",
        epilog=f"A wrong argument prints a one-line error and exits with status 2; set {DEBUG_VARIABLE}=1 to see "
               f"the full traceback of any error instead (e.g. to report a bug).",
    )
    parser.add_argument("--version", action="version", version=f"textgym {textgym.__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="table of every environment id").set_defaults(func=cmd_list)
    info = sub.add_parser("info", help="an environment's documentation and one sample episode")
    info.add_argument("id")
    info.add_argument("--seed", type=seed_argument, default=0)
    info.set_defaults(func=cmd_info)
    play = sub.add_parser("play", help="play an environment in the terminal, token by token")
    play.add_argument("id")
    play.add_argument("--seed", type=seed_argument, default=0)
    play.add_argument("--reward-mode", choices=["dense", "sparse"], default="dense")
    play.add_argument("--top", type=int, default=8, help="how many candidates to show")
    play.add_argument(
        "--model",
        default=None,
        help="the model to play with: a local folder (e.g. a trained lm-ppo run's OUT/policy), 'tiny' or a hub name",
    )
    play.set_defaults(func=cmd_play)
    train = sub.add_parser("train", help="train an agent on an environment (writes metrics, summary, checkpoints)")
    from textgym_agents.train import add_train_arguments

    add_train_arguments(train)
    train.set_defaults(func=cmd_train)
    bench = sub.add_parser("bench", help="agents x tasks x reward modes x seeds: results.csv, summary.md, plots")
    from textgym_agents.bench.cli import add_bench_arguments, cmd_bench

    add_bench_arguments(bench)
    bench.set_defaults(func=cmd_bench)
    demo = sub.add_parser("demo", help="the environment table and sample episodes, dense and sparse")
    demo.add_argument("ids", nargs="*", default=["textgym/Sentiment-v0", "textgym/Copy-v0"])
    demo.add_argument("--seed", type=seed_argument, default=0)
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return its exit status.

    A wrong input (an unknown id, agent or hyper-parameter, a missing file, a model that is
    not there) prints ``textgym COMMAND: error: ...`` and returns 2; any other exception is a
    bug and prints one line saying so, returning 1. With ``TEXTGYM_DEBUG=1`` every error is
    raised with its traceback instead.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        # --help-agent loads no model: no need to import transformers (about a second) to quiet it
        with nullcontext() if getattr(args, "help_agent", False) else quiet_model_loading():
            return int(args.func(args) or 0)
    except KeyboardInterrupt:
        if _debug():
            raise
        kept = {
            "train": "; the last checkpoint is kept (use --resume)",
            "bench": "; finished runs are kept (rerunning skips them)",
        }
        print(f"textgym {args.command}: interrupted{kept.get(args.command, '')}", file=sys.stderr)
        return 130
    except _user_errors() as error:
        if _debug():
            raise
        print(f"textgym {args.command}: error: {_error_text(error)}", file=sys.stderr)
        return 2
    except Exception as error:
        if _debug():
            raise
        print(f"textgym {args.command}: internal error (a bug): {type(error).__name__}: {_error_text(error)}; "
              f"run again with {DEBUG_VARIABLE}=1 for the traceback and report it", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
