"""scripts/kernel_colours.py's groups: tower colourfulness over a sweep's seeds."""

from __future__ import annotations

import yaml

from alexnet_lightning.analysis.kernel_colours import kernel_groups, write_group_figure
from tests.checkpoint_files import write_checkpoint


def test_jobs_are_grouped_by_all_but_the_seed_and_towers_reported(tmp_path):
    sweep = tmp_path / "sweep"
    for job, (groups, seed) in enumerate([(1, 0), (2, 0), (1, 1), (2, 1)]):
        folder = sweep / str(job)
        (folder / ".hydra").mkdir(parents=True)
        overrides = [f"model.net.groups={groups}", f"seed={seed}", "data.md5=0123abcd"]
        overrides += [f"data.archive_dir={tmp_path / 'a' / 'long' / 'path'}"]
        (folder / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
        write_checkpoint(folder / "checkpoints" / "best.ckpt", seed=job, groups=groups)
    one, two = kernel_groups(sweep)
    assert one.label == "sweep model.net.groups=1" and len(one.towers) == 2
    assert [len(t) for t in one.towers] == [1, 1] and [len(t) for t in two.towers] == [2, 2]
    assert "2 seeds" in two.summary() and "tower2" in two.summary() and "±" in two.summary()
    png = write_group_figure(two, tmp_path / "figures" / "kernels.png")
    assert 0 < png.stat().st_size < 200_000
