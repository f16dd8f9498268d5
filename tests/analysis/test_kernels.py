"""Figure 3: the kernel grid, its per-kernel scaling, towers and colourfulness."""

from __future__ import annotations

from types import SimpleNamespace

import lightning as L
import pytest
import torch
from torch import nn

from alexnet_lightning.analysis.kernels import (
    colourfulness,
    kernel_figure,
    scale_per_kernel,
    tower_blocks,
    tower_count,
)
from alexnet_lightning.callbacks.kernels import KernelGrid
from tests.nets import alexnet


def _ramp_weights(count: int, side: int) -> torch.Tensor:
    """Kernel i holds (i + 1) * [0, 1, 2, ...] - 7 * i: every kernel a different range."""
    base = torch.arange(3 * side * side, dtype=torch.float32).view(3, side, side)
    return torch.stack([(i + 1) * base - 7 * i for i in range(count)])


def test_every_kernel_is_scaled_to_its_own_full_range():
    tiles = scale_per_kernel(_ramp_weights(4, 5))
    assert tiles.flatten(1).min(dim=1).values.tolist() == [0.0] * 4
    assert tiles.flatten(1).max(dim=1).values.tolist() == [1.0] * 4
    # the same ramp whatever its scale and offset
    assert torch.allclose(tiles[0], tiles[3])


def test_grid_shape_upsamples_each_kernel_to_a_readable_tile():
    tiles = scale_per_kernel(_ramp_weights(32, 5))
    (block,) = tower_blocks(tiles, towers=1, columns=16)
    # 5 px kernels drawn 8x: 40 px tiles, 2 px gaps around them, 2 rows of 16
    assert block.shape == (3, 2 + 2 * 42, 2 + 16 * 42)
    assert torch.equal(
        block[:, 2:42, 2:42], tiles[0].repeat_interleave(8, 1).repeat_interleave(8, 2)
    )


def test_two_towers_rows_hold_exactly_each_towers_kernels():
    net = alexnet("cifar", num_classes=4, groups=2)
    assert tower_count(net) == 2 and tower_count(alexnet("cifar", num_classes=4)) == 1
    tiles = scale_per_kernel(net.features[0].weight)
    first, second = tower_blocks(tiles, towers=2)
    for block, kernels in ((first, tiles[:16]), (second, tiles[16:])):
        assert block.shape == (3, 2 + 42, 2 + 16 * 42)  # one row of 16 kernels each
        for i, kernel in enumerate(kernels):
            x = 2 + 42 * i
            drawn = block[:, 2:42:8, x : x + 40 : 8]  # one pixel per kernel weight
            assert torch.equal(drawn, kernel)


def test_colourfulness_is_zero_for_grey_and_high_for_saturated_kernels():
    grey = torch.rand(1, 1, 5, 5).expand(1, 3, 5, 5)
    red = torch.zeros(1, 3, 5, 5)
    red[:, 0] = 1.0
    half = torch.zeros(1, 3, 5, 5)
    half[:, 0], half[:, 1:] = 0.75, 0.5  # a paler red
    scores = colourfulness(torch.cat([grey, red, half]))
    assert scores[0] == pytest.approx(0.0, abs=1e-3)
    assert scores[1] == pytest.approx(104.6, abs=0.5)  # sRGB red's chroma in CIE Lab
    assert 0 < scores[2] < scores[1]


def test_figure_reports_each_towers_colourfulness():
    net = alexnet("cifar", num_classes=4, groups=2)
    with torch.no_grad():
        conv = net.features[0].weight
        conv[:16] = torch.rand(16, 1, 5, 5)  # tower 1 grey
        conv[16:] = torch.rand(16, 3, 5, 5)  # tower 2 coloured
    figure = kernel_figure(net, title="t")
    assert figure.colourfulness[0] == pytest.approx(0.0, abs=1e-3)
    assert figure.colourfulness[1] > 10
    assert figure.image.dtype.name == "uint8" and figure.image.shape[2] == 3


class _Tiny(L.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Conv2d(4, 4, 3, groups=2), nn.Flatten())

    def training_step(self, batch, batch_idx):
        return self.net(batch[0]).mean()

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def test_callback_logs_every_n_epochs_and_writes_the_png_at_the_end(tmp_path):
    from lightning.pytorch.loggers import CSVLogger

    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.rand(4, 3, 8, 8)))
    callback = KernelGrid(every_n_epochs=2, path=str(tmp_path / "kernels.png"))
    trainer = L.Trainer(
        max_epochs=3,
        logger=CSVLogger(tmp_path),
        callbacks=[callback],
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        accelerator="cpu",
    )
    trainer.fit(_Tiny(), data)
    assert (tmp_path / "kernels.png").stat().st_size > 0
    rows = (tmp_path / "lightning_logs/version_0/metrics.csv").read_text().splitlines()
    header = rows[0].split(",")
    assert {"kernels/colourfulness/tower1", "kernels/colourfulness/tower2"} <= set(header)
    steps = [r.split(",")[header.index("step")] for r in rows[1:]]
    # after epoch 2, and at the end of fit (epoch 3): each epoch's last step, where Lightning
    # logs its epoch-level scalars
    assert steps == ["7", "11"]


def test_callback_turns_itself_off_for_a_network_without_a_first_conv(caplog):
    callback = KernelGrid(every_n_epochs=1)
    module = SimpleNamespace(net=nn.Sequential(nn.Flatten(), nn.Linear(12, 2)))
    callback.setup(SimpleNamespace(), module, "fit")
    assert "no kernels figure: Sequential has no first conv layer" in caplog.text
    assert callback._log(SimpleNamespace(is_global_zero=True), module, 1) is None
