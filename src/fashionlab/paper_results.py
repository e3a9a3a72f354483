"""What the paper reports for its six experiments (docs/paper-experiments.md, "around" values).

Read off the paper's text, not computed: they stand beside our results in reports, labelled as
the paper's. None where the paper gives no number.
"""

PAPER_REPORTED = {
    "ann-1": {"train_accuracy": 0.92, "train_loss": 0.4, "val_accuracy": 0.87, "val_loss": None,
              "note": "heavy overfitting, val loss rising 2 -> 5; pullover, coat, shirt weak"},
    "ann-2": {"train_accuracy": 0.96, "train_loss": 0.082, "val_accuracy": 0.90, "val_loss": 0.38,
              "note": "stable; shirt still weak"},
    "ann-3": {"train_accuracy": 0.95, "train_loss": 0.11, "val_accuracy": 0.89, "val_loss": 0.45,
              "note": "slightly better on shirts; late overfitting"},
    "cnn-1": {"train_accuracy": 0.95, "train_loss": 0.12, "val_accuracy": 0.92, "val_loss": 0.21,
              "note": "fluctuating learning; t-shirt slightly down"},
    "cnn-2": {"train_accuracy": 0.95, "train_loss": 0.11, "val_accuracy": 0.93, "val_loss": 0.18,
              "note": "more stable; shirt lowest class"},
    "cnn-3": {"train_accuracy": 0.95, "train_loss": 0.11, "val_accuracy": 0.93, "val_loss": 0.18,
              "note": "like cnn-2 (the paper says ~), learns faster"},
}
PAPER_SOURCE = 'İsmail Baş, "Training Fashion-MNIST Dataset With Deep Learning" (Keras 2.4.3)'
PAPER_SUMMARY = "Best of the paper: ANN 0.90 validation accuracy (min loss 0.34); CNN 0.93 (min loss 0.18)."
