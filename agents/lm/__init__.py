"""The LM-policy agents' shared parts: rollout, reference model and KL, credit assignment, checkpoint state.

Each algorithm (``agents/lm_ppo.py``, ``agents/lm_grpo.py``, ``agents/lm_rloo.py``,
``agents/lm_nlpo.py``) keeps only its own advantage and loss.
"""
