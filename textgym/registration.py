"""Registers every textgym environment id with Gymnasium (run on ``import textgym``)."""

from __future__ import annotations

import gymnasium as gym

from textgym.tasks import TASKS

GENERIC_ID = "textgym/TextGenEnv-v0"
ENTRY_POINT = "textgym.envs.textgen:TextGenEnv"
VECTOR_ENTRY_POINT = "textgym.envs.vector:TextGenVectorEnv"
#: the multi-turn conversation with a simulated user (textgym.conversation; not a TextGenEnv task, so not in env_ids)
CONVERSATION_ID = "textgym/Conversation-v0"


def env_ids() -> list[str]:
    """All registered textgym ids: the configurable one, then one per shipped task."""
    return [GENERIC_ID] + [env_id for _, env_id in TASKS.values()]


def register_envs() -> None:
    """Register (idempotently) ``textgym/TextGenEnv-v0`` and one id per shipped task."""
    if GENERIC_ID not in gym.registry:
        gym.register(
            id=GENERIC_ID, entry_point=ENTRY_POINT, vector_entry_point=VECTOR_ENTRY_POINT, kwargs={"task": "sentiment"}
        )
    for task_name, (_, env_id) in TASKS.items():
        if env_id not in gym.registry:
            gym.register(
                id=env_id, entry_point=ENTRY_POINT, vector_entry_point=VECTOR_ENTRY_POINT, kwargs={"task": task_name}
            )
    if CONVERSATION_ID not in gym.registry:
        gym.register(
            id=CONVERSATION_ID,
            entry_point="textgym.conversation.env:ConversationEnv",
            vector_entry_point="textgym.conversation.vector:ConversationVectorEnv",
            kwargs={"task": "conversation"},
        )
