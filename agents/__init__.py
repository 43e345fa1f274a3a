"""Agents that train on textgym environments: Stable-Baselines3 integration and LM-policy PPO."""
