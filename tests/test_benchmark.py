"""The benchmark script runs in a tiny configuration and writes a valid benchmark.json."""

import json

from .conftest import TINY_SHAPES
from .test_train_run import only_run_folder, run_script


def test_benchmark_writes_every_figure(tmp_path):
    result = run_script(
        "benchmark.py",
        *TINY_SHAPES,
        "loader_workers=[0,1]",
        "accelerator=cpu",
        "warmup_batches=2",
        "windows=2",
        "window_batches=2",
        "decode_images=12",
        "memory_epochs=2",
        "memory_workers=1",
        tmp=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    data = json.loads((only_run_folder(tmp_path, "benchmark") / "benchmark.json").read_text())
    assert set(data["loader_img_s"]) == {"0", "1"}
    for key in ("compute_img_s", "lightning_img_s", "end_to_end_img_s"):
        assert data[key] > 0, key
    assert data["lightning_overhead"] == data["compute_img_s"] / data["lightning_img_s"] - 1
    assert data["peak_rss_mb"]["main"] > 100  # torch alone is more than that
    assert data["peak_rss_mb"]["workers"] > 0  # the 1-worker loader was measured
    assert data["settings"]["data"]["batch_size"] == 8
    assert data["end_to_end_of_ceiling"] == data["end_to_end_img_s"] / min(
        data["compute_img_s"], data["loader_img_s"]["0"]
    )
    for split in ("train", "val"):
        assert set(data["decode_img_s"][split]) == {
            "pil_full",
            "pil_reduced",
            "torchvision",
            "auto",
        }
        assert min(data["decode_img_s"][split].values()) > 0
    assert len(data["worker_rss_mb_by_epoch"]) == 2 and min(data["worker_rss_mb_by_epoch"]) > 50
    assert "Lightning overhead" in result.stdout and "after each epoch" in result.stdout
