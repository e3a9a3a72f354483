#!/bin/sh
# Session 13, 2-core AMD EPYC with AVX512-BF16 (no AMX), torch 2.14.1, tf_keras 2.21, nothing else running.
# FASHIONLAB_DATA=.../fashion-mnist-2017-08-26; `pip install -e ".[peer]"` first.
python benchmarks/throughput.py --peer keras2 --rounds 5 --steps 400 --json throughput-5-rounds-400-steps.json \
    > throughput-5-rounds-400-steps.log 2>&1
python benchmarks/profile_step.py cnn-2 --steps 200 > profile-cnn-2-bf16.txt 2>&1
python benchmarks/profile_step.py cnn-2 --precision fp32 --steps 200 > profile-cnn-2-fp32.txt 2>&1
