"""An SB3 ``VecEnv`` over textgym's batched :class:`~textgym.envs.vector.TextGenVectorEnv`.

SB3 cannot take a Gymnasium ``VectorEnv``; this adapter gives SB3 agents the batched
environment's speed (one tensor step for all rows) instead of a Python loop over
``num_envs`` single environments in ``DummyVecEnv``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode
from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvIndices, VecEnvObs, VecEnvStepReturn

from textgym.envs.vector import TextGenVectorEnv


class TextGenSB3VecEnv(VecEnv):
    """SB3 view of a :class:`TextGenVectorEnv` (numpy output, SAME_STEP autoreset).

    Each finished row's info carries ``terminal_observation``, ``TimeLimit.truncated``,
    ``text``, ``score`` and ``end_reason``, as SB3's own ``DummyVecEnv`` would give them
    (``score`` alone of these three with ``info_text=False``).
    Every end of a textgym episode is a termination (the ``max_new_tokens`` horizon is
    part of the task), so ``TimeLimit.truncated`` is False and SB3 bootstraps nothing
    past it.
    """

    def __init__(self, vector_env: TextGenVectorEnv) -> None:
        if not isinstance(vector_env, TextGenVectorEnv):
            raise TypeError(f"expected a TextGenVectorEnv, got {type(vector_env).__name__}")
        if vector_env.output != "numpy":
            raise ValueError("the SB3 adapter needs a TextGenVectorEnv with output='numpy'")
        if vector_env.autoreset_mode != AutoresetMode.SAME_STEP:
            raise ValueError(
                f"the SB3 adapter needs a TextGenVectorEnv with autoreset_mode='SameStep' (SB3's own autoreset), "
                f"got {vector_env.autoreset_mode.value!r}"
            )
        self.vector_env = vector_env
        super().__init__(vector_env.num_envs, vector_env.single_observation_space, vector_env.single_action_space)
        self._actions: np.ndarray | None = None
        self._seed: int | None = None

    def reset(self) -> VecEnvObs:
        obs, _ = self.vector_env.reset(seed=self._seed)
        self._seed = None
        return obs

    def seed(self, seed: int | None = None) -> Sequence[None | int]:
        self._seed = seed
        return [seed] * self.num_envs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions).reshape(self.num_envs)

    def step_wait(self) -> VecEnvStepReturn:
        obs, rewards, terminated, truncated, info = self.vector_env.step(self._actions)
        dones = terminated | truncated
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        for row in np.flatnonzero(dones):
            final = info["final_info"]
            infos[row] = {
                "terminal_observation": info["final_obs"][row],
                "TimeLimit.truncated": bool(truncated[row] and not terminated[row]),
                "score": float(final["score"][row]),
            }
            for key in ("text", "end_reason"):  # strings: absent with info_text=False
                if key in final:
                    infos[row][key] = final[key][row]
        return obs, rewards.astype(np.float32), dones, infos

    def close(self) -> None:
        self.vector_env.close()

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        value = getattr(self.vector_env, attr_name)
        return [value for _ in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        setattr(self.vector_env, attr_name, value)

    def env_method(self, method_name: str, *method_args, indices: VecEnvIndices = None, **method_kwargs) -> list[Any]:
        method = getattr(self.vector_env, method_name)
        rows = list(self._get_indices(indices))
        if method_name == "action_masks":  # a per-row method: one mask per requested row
            masks = method(*method_args, **method_kwargs)
            return [masks[row] for row in rows]
        result = method(*method_args, **method_kwargs)
        return [result for _ in rows]

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None) -> list[bool]:
        return [False for _ in self._get_indices(indices)]

    def _get_indices(self, indices: VecEnvIndices) -> Iterable[int]:
        if indices is None:
            return range(self.num_envs)
        if isinstance(indices, int):
            return [indices]
        return indices


def make_sb3_vec_env(env_id: str, num_envs: int = 8, seed: int | None = None, **env_kwargs) -> TextGenSB3VecEnv:
    """The SB3 ``VecEnv`` of a textgym id, backed by one batched environment."""
    vector_env = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="vector_entry_point", **env_kwargs)
    sb3_env = TextGenSB3VecEnv(vector_env)
    sb3_env.seed(seed)
    return sb3_env
