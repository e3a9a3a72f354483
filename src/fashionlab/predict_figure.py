"""`fashionlab predict --show FILE.png`: each image as the model saw it, beside its class probabilities.

One row per predicted file: the 28x28 input (after inversion, cropping and centring, so a
surprising answer can be traced to what the preparation made of the photo) and a bar chart of
every class's probability, the top class highlighted, with the file's notes under its name.
"""

from __future__ import annotations

import textwrap

from .figures import save_figure


MAX_SHOWN = 50  # rows of a --show figure: 250 images drew a 142-megapixel PNG that image viewers refuse


def prediction_figure(predictions, classes, path) -> None:
    """Draw the first MAX_SHOWN predictions that have probabilities (files that failed are left out) into `path`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [p for p in predictions if p.probabilities is not None][:MAX_SHOWN]
    fig, axes = plt.subplots(len(shown), 2, figsize=(9, 2.9 * len(shown)), squeeze=False,
                             gridspec_kw={"width_ratios": [1, 2.2]})
    positions = range(len(classes))
    for (picture, bars), p in zip(axes, shown):
        picture.imshow(p.image, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
        picture.set_xticks([])
        picture.set_yticks([])
        title = p.path.name + (" (inverted)" if p.inverted else "")
        picture.set_title("\n".join(textwrap.wrap(title, 28)), fontsize=10)
        picture.set_xlabel("what the model sees (28 x 28)", fontsize=8)
        best = int(p.probabilities.argmax())
        colors = ["#1f6fb4" if i == best else "#a9bfd6" for i in positions]
        bars.barh(positions, p.probabilities, color=colors)
        bars.set_yticks(list(positions), classes, fontsize=9)
        bars.invert_yaxis()  # first class on top, as in the dataset's class list
        bars.set_xlim(0, 1.12)
        bars.set_xlabel("probability", fontsize=9)
        for i, value in enumerate(p.probabilities):
            bars.text(value + 0.01, i, f"{value:.2f}", va="center", fontsize=8)
        note = "; ".join(n.split(":")[0].split(" (")[0] for n in p.notes)  # "no item found", "low confidence"
        bars.set_title(f"{classes[best]} {p.probabilities[best]:.2f}" + (f"   [{note}]" if note else ""),
                       fontsize=10, color="#b3261e" if note else "black")
        bars.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    save_figure(fig, path)
