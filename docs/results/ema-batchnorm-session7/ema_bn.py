"""Does a long-horizon weight EMA lose accuracy because its averaged BatchNorm statistics do not fit
the averaged weights? Train `fast` with ema=DECAY on a 10% validation split, then score the saved
(EMA) weights on the validation split as saved, and again after recomputing BatchNorm statistics
over the training images with the EMA weights (torch.optim.swa_utils.update_bn)."""
import sys, tempfile
from pathlib import Path
import torch
from torch.optim.swa_utils import update_bn
from fashionlab.data import load_dataset
from fashionlab.evaluation import load_run_model, to_input, loss_and_accuracy
from fashionlab.experiment import load_config
from fashionlab.data.dataset import validation_split
from fashionlab.training import train

decay = float(sys.argv[1]); preset = sys.argv[2] if len(sys.argv) > 2 else "fast"
torch.set_num_threads(1)
config = load_config(preset, {"ema": decay, "validation_split": 0.1, "threads": 1, "seed": 0})
with tempfile.TemporaryDirectory() as tmp:
    result = train(config, Path(tmp) / "run", progress=False, log=lambda s: None)
    print("history val:", [round(r["val_accuracy"], 4) for r in result.history])
    loaded = load_run_model(Path(tmp) / "run", "cpu")
    data = load_dataset(config.release)
    at = validation_split(len(data.train_images), 0.1)
    val_x, val_y = to_input(data.train_images[at:], loaded.device), torch.from_numpy(data.train_labels[at:]).long()
    tr_x = to_input(data.train_images[:at], loaded.device)
    model = loaded.model
    def score():
        model.eval()
        with torch.no_grad(), torch.autocast("cpu", torch.bfloat16, enabled=loaded.precision == "bf16"):
            logits = torch.cat([model(val_x[i:i + 2000].contiguous(memory_format=torch.channels_last)).float() for i in range(0, len(val_x), 2000)])
        return loss_and_accuracy(logits, val_y)[1]
    print(f"ema {decay}: validation as saved {score():.4f}", flush=True)
    loader = [tr_x[i:i + 500].contiguous(memory_format=torch.channels_last) for i in range(0, len(tr_x), 500)]
    update_bn(loader, model)
    print(f"ema {decay}: validation after update_bn {score():.4f} (no TTA)")
