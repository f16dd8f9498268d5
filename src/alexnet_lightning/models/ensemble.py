"""Section 6's ensemble: several trained networks, their softmaxes averaged (the paper's
Table 2 averages five), each member's accuracy measured on the same batches beside it."""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from torch import nn

from alexnet_lightning.models.classifier import (
    AlexNetClassifier,
    stage_collection,
    view_averaged_logits,
)


class EnsembleClassifier(L.LightningModule):
    """Logs ``test/member<i>/acc|acc_top5`` and ``test/ensemble/acc|acc_top5``; a batch of
    views (ten-crop) is averaged per member first, as each network alone would predict."""

    def __init__(self, members: list[AlexNetClassifier]) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)
        classes = members[0].num_classes
        names = [f"member{i}" for i in range(len(members))] + ["ensemble"]
        self.metrics = nn.ModuleDict(
            {n: stage_collection(classes, "test", f"test/{n}/") for n in names}
        )

    @staticmethod
    def probabilities(member: nn.Module, images: torch.Tensor) -> torch.Tensor:
        if images.dim() == 5:  # (batch, views, C, H, W)
            return view_averaged_logits(member, images).exp()
        return member(images).softmax(dim=1)

    def test_step(self, batch: Any, batch_idx: int) -> None:
        images, targets = batch
        if images.shape[0] == 0:  # every image of the batch was unreadable and skipped
            return
        probs = [self.probabilities(member, images) for member in self.members]
        for index, p in enumerate(probs):
            self.metrics[f"member{index}"].update(p, targets)
        self.metrics["ensemble"].update(torch.stack(probs).mean(dim=0), targets)
        for collection in self.metrics.values():
            self.log_dict(collection, on_step=False, on_epoch=True, batch_size=len(targets))
