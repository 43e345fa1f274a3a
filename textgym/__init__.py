"""textgym: Gymnasium environments that treat text generation as a Markov decision process.

Importing the package registers its environments under the ``textgym`` namespace::

    import gymnasium as gym
    import textgym

    env = gym.make("textgym/Sentiment-v0", reward_mode="dense")
"""

from textgym.envs import EpisodeFinishedError, TextGenEnv, TextGenVectorEnv
from textgym.registration import env_ids, register_envs
from textgym.task import Prompt, Scorer, Task, TaskError
from textgym.tasks import make_task, register_task, task_names

__version__ = "0.1.0"

register_envs()

__all__ = [
    "EpisodeFinishedError",
    "Prompt",
    "Scorer",
    "Task",
    "TaskError",
    "TextGenEnv",
    "TextGenVectorEnv",
    "env_ids",
    "make_task",
    "register_envs",
    "register_task",
    "task_names",
]
