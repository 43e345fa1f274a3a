#!/usr/bin/env bash
# The GPU check: one script, at most 8 minutes on one H200, that writes one table to paste into
# benchmarks/RESULTS.md. Run from the repository root on a machine with CUDA:
#
#     bash benchmarks/gpu_check.sh [OUT_DIR]        # default OUT_DIR: benchmarks/results/gpu_check
#
# 1. the tests that need CUDA (pytest -m "not slow" -k cuda), 2. env throughput with the batched env's
# tensors on the GPU (throughput.py --device cuda --quick), 3. lm-ppo at GPT-2 size (124M) in bf16 and
# LoRA (scale.py --device cuda), 4. the reward-model cost on the GPU (reward_cost.py --device cuda),
# 5. with 2 GPUs or more: a 2-process NCCL data-parallel lm-ppo run (torchrun -m textgym_agents.distributed).
# Each step has its own time limit and its exit code in the table; a failed step does not stop the others.
set -u
cd "$(dirname "$0")/.."
OUT="${1:-benchmarks/results/gpu_check}"
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
TABLE="$OUT/table.md"
GPUS=$(python3 -c "import torch; print(torch.cuda.device_count())")
{
  echo "### GPU check ($(date -u +%Y-%m-%d), \`bash benchmarks/gpu_check.sh\`)"
  echo
  echo "Machine: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | head -1), $GPUS GPU(s), $(nproc) CPU cores;"
  echo "$(python3 -c "import torch, transformers; print('torch', torch.__version__, 'CUDA', torch.version.cuda, 'transformers', transformers.__version__)")"
  echo
  echo "| step | seconds | exit | result |"
  echo "|---|---|---|---|"
} > "$TABLE"

step() {  # step NAME LIMIT_SECONDS SUMMARY_COMMAND -- COMMAND...
  local name=$1 limit=$2 summary=$3; shift 4
  local start=$(date +%s)
  timeout "$limit" "$@" > "$OUT/$name.log" 2>&1
  local code=$?
  local seconds=$(( $(date +%s) - start ))
  local result
  if [ "$code" -eq 0 ]; then
    result=$(bash -c "$summary" < "$OUT/$name.log" | tr '\n' ' ' | tr '|' '/' | cut -c1-400)
  else  # the error's last line
    result="FAILED: $(grep -v '^\s*$' "$OUT/$name.log" | tail -1 | tr '|' '/' | cut -c1-300)"
  fi
  echo "| $name | $seconds | $code | $result |" >> "$TABLE"
}

step cuda-tests 60 "tail -1" -- python3 -m pytest -q -m "not slow" -k cuda tests
step env-throughput 90 "grep -iE 'speed-up|ratio|x ' | tail -3" -- python3 benchmarks/throughput.py --device cuda --quick
step lm-ppo-gpt2-bf16-lora 150 "grep -E '^\| (full|lora)' | cut -d'|' -f2,5,6,8,9" -- \
  python3 benchmarks/scale.py --device cuda --num-envs 32 --max-new-tokens 32 --updates 2 --configs full-fp32,full-bf16,lora --csv "$OUT/scale.csv"
step reward-cost 90 "grep -E 'x|ratio' | tail -4" -- python3 benchmarks/reward_cost.py --device cuda
if [ "$GPUS" -ge 2 ]; then
  step nccl-2-process 60 "grep -E 'done' | head -2" -- python3 -m torch.distributed.run --nproc_per_node 2 --standalone \
    -m textgym_agents.distributed --agent lm-ppo --env textgym/Sentiment-v0 --steps 256 --eval-every 256 --num-envs 16 \
    --device cuda --out "$OUT/nccl_run" --no-progress --set num_epochs=1
else
  echo "| nccl-2-process | – | – | skipped: $GPUS GPU(s) |" >> "$TABLE"
fi
echo >> "$TABLE"
echo "Logs: $OUT/*.log" >> "$TABLE"
cat "$TABLE"
