cd /work/main
for i in 1 2 3; do
  for tree in fl-long main; do
    PYTHONPATH=/work/$tree/src .venv/bin/python benchmarks/throughput.py --models cnn-2 --precision bf16 fp32 --devices cpu --reference-steps 0 --steps 400 --repeats 3 --json /work/scratch/ab-$tree-$i.json 2>&1 | grep -v "^machine" | sed "s/^/$tree $i: /"
  done
done
