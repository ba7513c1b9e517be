#!/usr/bin/env bash
# usage: run.sh NAME DATA STEPS [train args...] — trains an MDLM (or AR with --model ar) and runs the context check
set -u
name=$1; data=$2; steps=$3; shift 3
cli=${CLI:-"dotnet run -c Release --project src/IlgpuDiffusion.Cli --"}   # from the repository root
out=${RUNS:-runs}/$name; mkdir -p $out
start=$(date +%s)
echo "train --data $data --steps $steps $*" > $out/command.txt
$cli train --data $data --steps $steps --validation-interval 0 --validation-batches 16 --log-interval 50 \
  -o $out/model.safetensors --metrics $out/metrics.jsonl --device cpu "$@" > $out/train.log 2>&1
trained=$(date +%s)
if [[ " $* " == *" --model ar "* ]]; then
  true  # the GPT's validation loss is in its training log
else
  $cli eval $out/model.safetensors --data $data --parts validation --device cpu -o $out/eval > $out/eval.log 2>&1
fi
end=$(date +%s)
echo "$name train_s=$((trained-start)) eval_s=$((end-trained))" >> ${RUNS:-runs}/times.txt
