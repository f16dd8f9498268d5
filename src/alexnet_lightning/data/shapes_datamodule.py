"""The built-in dataset as a DataModule: generated on first use, then read like any folder."""

from __future__ import annotations

from typing import Any

from alexnet_lightning.data.folder_datamodule import ImageFolderDataModule


class ShapesDataModule(ImageFolderDataModule):
    """ImageFolderDataModule over the procedurally generated shapes dataset.

    ``prepare_data`` writes the JPEG tree under ``root`` once (locked, atomic), so the rest
    of the pipeline is exactly the one a real dataset goes through. The generator's settings
    have no defaults here: conf/data/shapes.yaml is their one home.
    """

    def __init__(
        self,
        root: str,
        *,
        num_classes: int,
        train_per_class: int,
        val_per_class: int,
        source_size: int,
        generator_seed: int,
        **kwargs: Any,
    ) -> None:
        super().__init__(root=root, num_classes=num_classes, **kwargs)
        self.generator_args = {
            "num_classes": num_classes,
            "train_per_class": train_per_class,
            "val_per_class": val_per_class,
            "image_size": source_size,
            "seed": generator_seed,
        }

    def prepare_data(self) -> None:
        # The one runtime door into the dataset tools: the built-in dataset is generated on
        # first use, and a run on any other dataset never loads the generator.
        from alexnet_lightning.dataset_tools.shapes import ensure_shapes_dataset

        ensure_shapes_dataset(self.root, **self.generator_args)
