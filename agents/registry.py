"""Agent names -> agent classes (imported lazily, so that ``textgym list`` stays fast)."""

from __future__ import annotations

import importlib

#: name -> "module:Class"
AGENTS: dict[str, str] = {
    "random": "agents.random_agent:RandomAgent",
    "sb3-ppo": "agents.sb3.agents:SB3PPOAgent",
    "sb3-a2c": "agents.sb3.agents:SB3A2CAgent",
    "sb3-dqn": "agents.sb3.agents:SB3DQNAgent",
    "sb3-maskable-ppo": "agents.sb3.agents:SB3MaskablePPOAgent",
    "lm-ppo": "agents.lm_ppo:LMPPOAgent",
    "q-learning": "agents.tabular:QLearningAgent",
    "sarsa": "agents.tabular:SarsaAgent",
}


def agent_class(name: str):
    if name not in AGENTS:
        raise ValueError(f"unknown agent {name!r}; allowed: {', '.join(AGENTS)}")
    module, cls = AGENTS[name].split(":")
    return getattr(importlib.import_module(module), cls)
