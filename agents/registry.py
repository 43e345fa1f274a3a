"""Agent names -> agent classes (imported lazily, so that ``textgym list`` stays fast)."""

from __future__ import annotations

import importlib

from textgym.extras import require

#: name -> "module:Class"
AGENTS: dict[str, str] = {
    "random": "textgym_agents.random_agent:RandomAgent",
    "sb3-ppo": "textgym_agents.sb3.agents:SB3PPOAgent",
    "sb3-ppo-topk": "textgym_agents.sb3.agents:SB3PPOTopKAgent",
    "sb3-a2c": "textgym_agents.sb3.agents:SB3A2CAgent",
    "sb3-dqn": "textgym_agents.sb3.agents:SB3DQNAgent",
    "sb3-maskable-ppo": "textgym_agents.sb3.agents:SB3MaskablePPOAgent",
    "lm-ppo": "textgym_agents.lm_ppo:LMPPOAgent",
    "lm-grpo": "textgym_agents.lm_grpo:LMGRPOAgent",
    "lm-rloo": "textgym_agents.lm_rloo:LMRLOOAgent",
    "lm-nlpo": "textgym_agents.lm_nlpo:LMNLPOAgent",
    "lm-rebn": "textgym_agents.lm_rebn:LMReBNAgent",
    "q-learning": "textgym_agents.tabular:QLearningAgent",
    "sarsa": "textgym_agents.tabular:SarsaAgent",
}

#: name -> the modules beyond textgym's core that the agent needs, each with the extra that installs it
#: (the others need torch, transformers and numpy only, as the environments do)
AGENT_REQUIREMENTS: dict[str, tuple[tuple[str, str], ...]] = {
    "sb3-ppo": (("stable_baselines3", "agents"),),
    "sb3-ppo-topk": (("stable_baselines3", "agents"),),
    "sb3-a2c": (("stable_baselines3", "agents"),),
    "sb3-dqn": (("stable_baselines3", "agents"),),
    "sb3-maskable-ppo": (("stable_baselines3", "agents"), ("sb3_contrib", "agents")),
}


def check_agent_requirements(name: str) -> None:
    """Raise :class:`textgym.extras.MissingExtraError` (one line naming the extra) if a module the agent needs is
    missing."""
    for module, extra in AGENT_REQUIREMENTS.get(name, ()):
        require(module, extra, f"the {name} agent")


def agent_class(name: str) -> type:
    """The :class:`~textgym_agents.base.Agent` subclass named ``name``; an unknown name lists the allowed ones, and a
    missing optional module is a :class:`textgym.extras.MissingExtraError` naming its extra."""
    if name not in AGENTS:
        raise ValueError(f"unknown agent {name!r}; allowed: {', '.join(AGENTS)}")
    check_agent_requirements(name)
    module, cls = AGENTS[name].split(":")
    return getattr(importlib.import_module(module), cls)
