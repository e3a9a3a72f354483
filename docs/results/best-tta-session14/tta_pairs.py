"""Session 14: multi-crop TTA on `best`'s held-out validation images, paired image by image.

For each kept run: the validation images it held out (as `fashionlab evaluate --split validation` cuts
them), scored by its saved weights with flip TTA and tta_shift 0, 1 and 2, and the images each shifted
setting gets right that the run's own gets wrong (and the reverse). The test set is not read.
    python tta_pairs.py RUN_DIR [RUN_DIR ...]
"""
import sys

import torch

from fashionlab.data import load_dataset, split_training_set
from fashionlab.evaluation import load_run_model, predict_logits, to_input

for run_dir in sys.argv[1:]:
    loaded = load_run_model(run_dir, "cpu")
    config = loaded.config
    dataset = load_dataset(config.release)
    _, (images, labels) = split_training_set(dataset.train_images, dataset.train_labels, config.validation_split,
                                             config.train_limit)
    x, y = to_input(images, loaded.device), torch.from_numpy(labels.astype("int64"))
    right = {}
    for shift in (0, 1, 2):
        logits = predict_logits(loaded.model, x, config.eval_batch_size, loaded.channels_last, loaded.precision,
                                tta_flip=config.tta_flip, tta_shift=shift)
        right[shift] = logits.argmax(1) == y
    own = right[config.tta_shift]
    print(f"{run_dir}: {len(y):,} validation images, tta_flip {config.tta_flip}, the run's tta_shift {config.tta_shift}")
    for shift, ok in right.items():
        gained, lost = int((ok & ~own).sum()), int((~ok & own).sum())
        print(f"  tta_shift {shift}: {ok.float().mean().item():.4%}  against the run's own: +{gained} -{lost} images")
