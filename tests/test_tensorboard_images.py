"""The confusion-matrix figure that goes to TensorBoard."""

import torch

from alexnet_lightning.callbacks.tensorboard_images import confusion_figure


def test_confusion_figure_names_the_classes_and_normalises_rows():
    matrix = torch.tensor([[3, 1, 0], [0, 0, 0], [2, 2, 4]])
    figure = confusion_figure(matrix, ["tench", "goldfish", "shark"])
    axes = figure.axes[0]
    assert [t.get_text() for t in axes.get_xticklabels()] == ["tench", "goldfish", "shark"]
    assert [t.get_text() for t in axes.get_yticklabels()] == ["tench", "goldfish", "shark"]
    shown = torch.as_tensor(axes.images[0].get_array())
    expected = torch.tensor([[0.75, 0.25, 0.0], [0.0, 0.0, 0.0], [0.25, 0.25, 0.5]])
    assert torch.allclose(shown.float(), expected)  # an empty row stays 0, not NaN
    assert len(axes.texts) == 9  # few classes: every cell's value is written in


def test_confusion_figure_of_many_classes_fits_a_tensorboard_card():
    figure = confusion_figure(torch.eye(100, dtype=torch.long), [f"n{i:08d}" for i in range(100)])
    width, height = figure.get_size_inches() * figure.dpi
    assert width <= 1300 and height <= 1300
    assert len(figure.axes[0].texts) == 0  # 10,000 numbers would be unreadable
    assert len(figure.axes[0].get_xticklabels()) == 100
