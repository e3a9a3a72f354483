"""Session 24: which shifted views should multi-crop TTA average? Scored on held-out validation images only.

For each kept run: the validation images it held out (cut as `fashionlab evaluate --split validation`
cuts them), scored by its saved weights in its own precision, flip-averaged, at each of the 9 shifts
in {-1, 0, 1}^2 (`translate`, zero border), once. The view sets below then weigh those logits: the
unshifted view 1/2 and the shifted ones share the other 1/2 ("airbench" is `tta_shift = 1` as
`tta_logits` does it). The test set is not read.
    python tta_views.py RUN_DIR [RUN_DIR ...]
"""
import sys

import torch

from fashionlab.data import load_dataset, split_training_set
from fashionlab.evaluation import (autocast, eval_batches, load_run_model, loss_and_accuracy, predict_logits,
                                   to_input, translate)

SETS = {
    "none": [],
    "airbench (down-right, up-left)": [(1, 1), (-1, -1)],
    "other diagonal (down-left, up-right)": [(1, -1), (-1, 1)],
    "4 diagonals": [(1, 1), (-1, -1), (1, -1), (-1, 1)],
    "4 axial": [(1, 0), (-1, 0), (0, 1), (0, -1)],
    "all 8 neighbours": [(1, 1), (-1, -1), (1, -1), (-1, 1), (1, 0), (-1, 0), (0, 1), (0, -1)],
}


@torch.inference_mode()
def view_logits(loaded, x, batch_size, dy, dx):
    model = loaded.model.eval()
    out = []
    for batch in eval_batches(translate(x, dy, dx), batch_size, loaded.channels_last):
        with autocast(x.device, loaded.precision):
            out.append((model(batch).float() + model(batch.flip(-1)).float()) / 2)
    return torch.cat(out)


totals = {name: [] for name in SETS}
for run_dir in sys.argv[1:]:
    loaded = load_run_model(run_dir, "cpu")
    config = loaded.config
    dataset = load_dataset(config.release)
    _, (images, labels) = split_training_set(dataset.train_images, dataset.train_labels, config.validation_split,
                                             config.train_limit)
    x, y = to_input(images, loaded.device), torch.from_numpy(labels.astype("int64"))
    views = {(dy, dx): view_logits(loaded, x, config.eval_batch_size, dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)}
    # check: the airbench set reproduces the package's own tta_shift = 1 scoring
    own = predict_logits(loaded.model, x, config.eval_batch_size, loaded.channels_last, loaded.precision,
                         tta_flip=True, tta_shift=1)
    print(f"{run_dir}: {len(y):,} validation images, precision {loaded.precision}")
    for name, shifts in SETS.items():
        logits = views[(0, 0)] if not shifts else views[(0, 0)] / 2 + sum(views[s] for s in shifts) / (2 * len(shifts))
        if name.startswith("airbench"):
            assert torch.allclose(logits, own, atol=1e-4), "the airbench set differs from tta_logits"
        loss, accuracy = loss_and_accuracy(logits, y)
        totals[name].append(accuracy)
        print(f"  {name:<38} accuracy {accuracy:.4%}  loss {loss:.4f}", flush=True)
print(f"mean over {len(sys.argv) - 1} runs:")
for name, accs in totals.items():
    print(f"  {name:<38} {sum(accs) / len(accs):.4%}  against airbench's: "
          f"{(sum(accs) - sum(totals['airbench (down-right, up-left)'])) / len(accs) * 100:+.3f} points")
