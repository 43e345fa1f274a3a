"""Run by ``tests/test_data_parallel.py`` under ``torchrun``: for each agent, one update on this rank's share of a
saved rollout, then rank 0 saves the updated weights and statistics. Arguments: SETTINGS_JSON OUT_FILE, with
SETTINGS_JSON ``{agent: {"num_envs", "env_kwargs", "hyperparameters", "rollout": file}}``."""

import json
import sys

import torch
import torch.distributed as dist

from textgym_agents.distributed import import_group_binding_modules, leave_process_group


def main() -> None:
    settings_json, out_file = sys.argv[1:3]
    import_group_binding_modules()
    dist.init_process_group("gloo")
    try:
        import textgym  # noqa: F401
        from textgym_agents.lm.rollout import Rollout
        from textgym_agents.registry import agent_class
        from textgym_agents.run import RunConfig

        results = {}
        for agent_name, settings in json.loads(settings_json).items():
            torch.manual_seed(0)
            cls = agent_class(agent_name)
            run = RunConfig(
                agent=agent_name,
                env_id="textgym/Copy-v0",
                seed=0,
                device="cpu",
                num_envs=settings["num_envs"],
                out="unused",
                env_kwargs=settings["env_kwargs"],
            )
            agent = cls(run, cls.Config(**settings["hyperparameters"]))
            whole = Rollout(**torch.load(settings["rollout"], weights_only=True))
            rows = settings["num_envs"] // dist.get_world_size()
            mine = whole.episodes(torch.arange(dist.get_rank() * rows, (dist.get_rank() + 1) * rows))
            stats = agent.update(mine)
            results[agent_name] = {
                "weights": {k: v.detach().clone() for k, v in agent.policy_model.state_dict().items()},
                "stats": stats,
            }
            agent.close()
        if dist.get_rank() == 0:
            torch.save(results, out_file)
        finished = True
    except BaseException:
        finished = False
        raise
    finally:
        leave_process_group(wait_for_peers=finished)


if __name__ == "__main__":
    main()
