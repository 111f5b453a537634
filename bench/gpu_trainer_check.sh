#!/usr/bin/env bash
# The pretraining script's GPU doors, run as the README prints them, on the demo recipe (the synthetic corpus, a tiny
# model): bf16 mixed precision through the Trainer, then FSDP (`full_shard auto_wrap` around ViCLIPEncoderLayer, one
# process under torchrun) writing a checkpoint, killed there, and the same command rerun to resume from it and finish.
# Every step prints its last lines and the FSDP checkpoint's files; the exit status is the number of failed steps.
#
#     [PYTHON=python] bash bench/gpu_trainer_check.sh [WORK_DIR]   # default /tmp/gpu-trainer-check; a few minutes on one GPU
set -uo pipefail
work=${1:-/tmp/gpu-trainer-check}
failures=0
python=${PYTHON:-python3}
torchrun=("$python" -m torch.distributed.run --nproc_per_node 1)  # `torchrun --nproc_per_node 1`
common=(configs/demo.json --synthetic_corpus_dir "$work/synthetic" --bf16 true --dataloader_num_workers 6
    --logging_steps 10 --report_to none)
fsdp=(--fsdp "full_shard auto_wrap" --fsdp_config '{"transformer_layer_cls_to_wrap": ["ViCLIPEncoderLayer"]}')

step() {  # step NAME COMMAND...: runs the command, keeps its log, prints its tail and whether it passed
    local name=$1
    shift
    echo "=== $name: $*"
    local start=$SECONDS
    "$@" >"$work/$name.log" 2>&1
    local status=$?
    grep -E "train_runtime|train_loss|eval_|Retrieval|R@1|resum|Resum|error|Error" "$work/$name.log" | tail -12
    echo "=== $name: exit $status after $((SECONDS - start)) s"
    [ $status -eq 0 ] || failures=$((failures + 1))
}

mkdir -p "$work"
step bf16 "$python" run_pretrain.py "${common[@]}" --output_dir "$work/bf16" --max_steps 60 --save_strategy no
step fsdp_first "${torchrun[@]}" run_pretrain.py "${common[@]}" "${fsdp[@]}" --output_dir "$work/fsdp" \
    --max_steps 40 --save_strategy steps --save_steps 20 --save_total_limit 2 --do_eval false
ls "$work/fsdp"/checkpoint-* 2>&1 | head -20
rm -rf "$work/fsdp/checkpoint-40"  # as if the run had been killed after its first checkpoint
step fsdp_resume "${torchrun[@]}" run_pretrain.py "${common[@]}" "${fsdp[@]}" --output_dir "$work/fsdp" \
    --max_steps 40 --save_strategy steps --save_steps 20 --save_total_limit 2
grep -m1 -iE "resum|continu" "$work/fsdp_resume.log" || echo "(no resume line in the log)"
echo "failed steps: $failures"
exit $failures
