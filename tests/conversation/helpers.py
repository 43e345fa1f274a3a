"""Shared pieces of the conversation tests: a custom conversation, scripted and random agents."""

from __future__ import annotations

import numpy as np

from textgym.conversation import ConversationTask, UserGoal, UserTurn, opening_prompt

#: the docstring's worked example: greeting, then a shop question about Monday
EXAMPLE_GOAL = UserGoal("question", (UserTurn("Hey, good morning!", "greeting"),
                                     UserTurn("Are you open on Monday?", "question", ("Monday",))))
#: a conversation about a fact: a greeting, the question, thanks
FACT_GOAL = UserGoal("fact", (UserTurn("Hello!", "greeting"),
                              UserTurn("What is the capital of France?", "fact", ("Paris",)),
                              UserTurn("Thanks for your patience!", "thanks")))


def example_task() -> ConversationTask:
    """A task with the two goals above in both splits."""
    return ConversationTask(prompts=[opening_prompt(EXAMPLE_GOAL), opening_prompt(FACT_GOAL)])


def say(env, text: str) -> list[tuple]:
    """Step ``env`` (a single env) with the tokens of ``text`` until they run out or the episode ends."""
    results = []
    for token in env.unwrapped.tokenizer.encode(text):
        results.append(env.step(token))
        if results[-1][2]:
            break
    return results


def random_agent_tokens(tokenizer, rng: np.random.Generator, count: int) -> np.ndarray:
    """``count`` tokens of a random agent that writes turns: words (polite, rude, fitting, plain), newlines, and
    rarely EOS or any token of the vocabulary."""
    words = [" Hello", " thank", " you", " sorry", " whatever", " yes", " the", " kettle", " Paris", "!", " sure",
             " I", " will", " refund", " idiot", " bye", " please"]
    pieces = [tokenizer.encode(word)[0] for word in words]
    newline = tokenizer.encode("\n")[0]
    choice = rng.random(count)
    tokens = rng.choice(pieces, size=count)
    tokens = np.where(choice < 0.18, newline, tokens)
    tokens = np.where(choice > 0.995, tokenizer.eos_token_id, tokens)
    anything = (choice > 0.9) & (choice <= 0.995)
    return np.where(anything, rng.integers(tokenizer.vocab_size, size=count), tokens).astype(np.int64)
