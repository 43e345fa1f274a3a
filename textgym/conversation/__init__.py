"""Multi-turn conversations with a simulated user: ``textgym/Conversation-v0``.

- :mod:`.goals`: the user's goals and the conversations' openings, drawn from the seeded world;
- :mod:`.user`: the :class:`UserSimulator` protocol and the world's user, :class:`WorldUser`;
- :mod:`.score`: the conversation-level score (goal completion, politeness, brevity);
- :mod:`.task`: :class:`ConversationTask` (the openings in train and eval splits) and the env's checked setup;
- :mod:`.env`: :class:`ConversationEnv`, one conversation; :mod:`.vector`: :class:`ConversationVectorEnv`, a batch.
"""

from textgym.conversation.env import END_REASONS, ConversationEnv
from textgym.conversation.goals import GOAL_KINDS, UserGoal, UserTurn, opening_prompt
from textgym.conversation.task import CONVERSATION_REWARD_MODES, ConversationTask
from textgym.conversation.user import UserSimulator, WorldUser
from textgym.conversation.vector import ConversationVectorEnv

__all__ = [
    "CONVERSATION_REWARD_MODES",
    "END_REASONS",
    "GOAL_KINDS",
    "ConversationEnv",
    "ConversationTask",
    "ConversationVectorEnv",
    "UserGoal",
    "UserSimulator",
    "UserTurn",
    "WorldUser",
    "opening_prompt",
]
