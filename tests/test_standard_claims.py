"""The README's claims about the standard suite that are not in its generated tables come from the records: the
tasks on which some agent learns (``benchmarks/learning_gains.py``) and the runs behind the suite's measured time
(``benchmarks/suite_time.py``)."""

import csv
import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RECORDS = ROOT / "docs" / "standard" / "records"
RESULTS = ROOT / "benchmarks" / "results"


@pytest.fixture(scope="module")
def gains_module():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import learning_gains
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    return learning_gains


@pytest.fixture(scope="module")
def gains(gains_module):
    return gains_module.run_gains(RECORDS)


def read_csv(path: Path) -> list[dict]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def test_the_gains_file_is_what_the_records_give(gains):
    rows = read_csv(RESULTS / "standard_gains.csv")
    assert {(r["env_id"], r["agent"], r["reward_mode"]) for r in rows} == set(gains)
    for row in rows:
        values = gains[(row["env_id"], row["agent"], row["reward_mode"])]
        assert int(row["runs"]) == len(values)
        assert int(row["runs_learned"]) == sum(value >= 0.05 for value in values)
        assert float(row["mean_gain"]) == pytest.approx(sum(values) / len(values), abs=1e-4)


def test_the_readme_names_the_tasks_where_some_agent_learns(gains):
    learned = {}
    for (env_id, _, _), values in gains.items():
        share = sum(value >= 0.05 for value in values) / len(values)
        learned[env_id] = max(learned.get(env_id, 0.0), share)
    held = {env_id.split("/")[1].split("-")[0] for env_id, share in learned.items() if share >= 0.8}
    missed = {env_id.split("/")[1].split("-")[0] for env_id, share in learned.items() if share < 0.8}
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("**Where the agents learn.**"):readme.index("**Aggregate**")]
    count = re.search(r"on (\d+) of the (\d+) tasks", section)
    assert (int(count.group(1)), int(count.group(2))) == (len(held), len(learned))
    no_learning = re.search(r"\*\*(.+?) shows? no learning\*\*", section)
    if missed:
        assert no_learning is not None, f"the README does not name the tasks without learning: {sorted(missed)}"
        assert set(re.findall(r"[A-Z][a-z]+", no_learning.group(1))) == missed
    else:
        assert no_learning is None, f"the README names tasks without learning, the records have none: {section}"


def test_the_timed_sample_is_seed_0_of_every_cell_of_the_records():
    rows = read_csv(RESULTS / "standard_time_seed0.csv")
    cells = {name.rsplit("__seed", 1)[0] for name in (path.name for path in RECORDS.iterdir())}
    assert {row["run"].rsplit("__seed", 1)[0] for row in rows} == cells
    for row in rows:
        assert row["run"].endswith("__seed0")
        recorded = json.loads((RECORDS / row["run"] / "summary.json").read_text(encoding="utf-8"))["wall_seconds"]
        assert float(row["recorded_wall_seconds"]) == pytest.approx(recorded)
