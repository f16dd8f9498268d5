"""The pictures that go to TensorBoard: the confusion matrix and the augmented batch."""

from types import SimpleNamespace

import torch
from lightning.pytorch.loggers import TensorBoardLogger
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from alexnet_lightning.callbacks import tensorboard_images
from alexnet_lightning.callbacks.tensorboard_images import (
    batch_figure,
    confusion_figure,
    most_confused,
)

# The figure of a 4-class matrix before it had counts, a colour bar and a title: 520 x 520.
OLD_SIDE_PIXELS = 520


def test_confusion_figure_shows_counts_shares_colour_bar_and_title():
    matrix = torch.tensor([[3, 1, 0], [0, 0, 0], [2, 2, 4]])
    figure = confusion_figure(matrix, ["tench", "goldfish", "shark"], "val, epoch 7")
    axes = figure.axes[0]
    assert [t.get_text() for t in axes.get_xticklabels()] == ["tench", "goldfish", "shark"]
    assert [t.get_text() for t in axes.get_yticklabels()] == ["tench", "goldfish", "shark"]
    shown = torch.as_tensor(axes.images[0].get_array())
    expected = torch.tensor([[0.75, 0.25, 0.0], [0.0, 0.0, 0.0], [0.25, 0.25, 0.5]])
    assert torch.allclose(shown.float(), expected)  # an empty row stays 0, not NaN
    cells = [t.get_text() for t in axes.texts]
    assert cells[:3] == ["3\n75%", "1\n25%", "0\n0%"] and cells[-1] == "4\n50%"
    assert len(figure.axes) == 2  # the colour bar's axes
    assert axes.images[0].get_clim() == (0.0, 1.0)
    assert axes.get_title() == "val, epoch 7"


def test_confusion_figure_is_larger_than_before_with_readable_text():
    figure = confusion_figure(torch.eye(4, dtype=torch.long) * 5, list("abcd"), "epoch 0")
    width, height = figure.get_size_inches() * figure.dpi
    assert width > OLD_SIDE_PIXELS and height > OLD_SIDE_PIXELS
    axes = figure.axes[0]
    assert min(t.get_fontsize() for t in axes.texts) >= 10
    assert axes.title.get_fontsize() >= 14


def test_more_than_20_classes_show_the_20_most_confused_named_so():
    matrix = torch.eye(100, dtype=torch.long) * 10
    for true, predicted in [(7, 3), (7, 50), (42, 7), (99, 0)]:
        matrix[true, predicted] += 4
    assert most_confused(matrix, 5).tolist() == [7, 0, 3, 42, 50]  # errors in row + column
    figure = confusion_figure(matrix, [f"n{i:08d}" for i in range(100)], "val, epoch 2")
    axes = figure.axes[0]
    labels = [t.get_text() for t in axes.get_xticklabels()]
    assert len(labels) == 20 and labels[:6] == [f"n{i:08d}" for i in (7, 0, 3, 42, 50, 99)]
    assert axes.get_title() == "val, epoch 2: the 20 most confused of 100 classes"
    assert len(axes.texts) == 400
    width, height = figure.get_size_inches() * figure.dpi
    assert width <= 1400 and height <= 1400
    assert min(t.get_fontsize() for t in axes.texts) >= 8


def test_batch_figure_labels_each_tile_with_its_class():
    images = torch.rand(10, 3, 16, 16)
    labels = [f"class{i % 3}" for i in range(10)]
    figure = batch_figure(images, labels, "augmented training batch, epoch 5", columns=4)
    (axes,) = figure.axes
    assert [text.get_text() for text in axes.texts] == labels
    assert figure.get_suptitle() == "augmented training batch, epoch 5"
    grid = torch.as_tensor(axes.images[0].get_array())  # (H, W, 3), 4-pixel gaps
    assert grid.shape == (3 * 20 + 4, 4 * 20 + 4, 3)
    tile = grid[2 * 20 + 4 : 2 * 20 + 20, 1 * 20 + 4 : 1 * 20 + 20]  # row 2, column 1: image 9
    assert torch.allclose(tile, images[9].permute(1, 2, 0))
    label_x, label_y = axes.texts[9].get_position()
    assert 20 + 4 < label_x < 2 * 20 and 2 * 20 < label_y < 2 * 20 + 4  # above its tile


def test_validation_matrix_goes_to_tensorboard_titled_with_the_epoch(tmp_path, monkeypatch):
    drawn = []

    def spy(matrix, names, title):
        drawn.append((matrix.tolist(), names, title))
        return confusion_figure(matrix, names, title)

    monkeypatch.setattr(tensorboard_images, "confusion_figure", spy)
    logger = TensorBoardLogger(tmp_path, name="", version="")
    trainer = SimpleNamespace(
        loggers=[logger],
        current_epoch=3,
        global_step=40,
        is_global_zero=True,
        sanity_checking=False,
    )
    module = SimpleNamespace(num_classes=2, device="cpu", hparams={"class_names": ["ant", "bee"]})
    callback = tensorboard_images.ConfusionMatrixLogger()
    outputs = {"preds": torch.tensor([0, 1, 1]), "targets": torch.tensor([0, 0, 1])}
    callback.on_validation_batch_end(trainer, module, outputs, None, 0)
    callback.on_validation_epoch_end(trainer, module)
    logger.experiment.flush()
    # the fourth epoch (current_epoch counts from 0), as the console says it
    assert drawn == [([[1, 1], [0, 1]], ["ant", "bee"], "val confusion matrix, epoch 4")]
    acc = EventAccumulator(str(tmp_path), size_guidance={"images": 0})
    acc.Reload()
    (image,) = acc.Images("val/confusion_matrix")
    # the epoch's last step, where Lightning logs its scalars
    assert image.step == 39 and image.width > OLD_SIDE_PIXELS
