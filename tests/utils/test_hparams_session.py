"""The curated HParams columns of a run, from its composed config (no training)."""

from tensorboard.plugins.hparams import api_pb2
from tensorboard.plugins.hparams import metadata as hparams_metadata

from alexnet_lightning.utils.hparams_session import METRICS, curated_hparams, hparams_summaries
from tests.conftest import compose_config


def test_curated_hparams_of_an_sgd_imagefolder_run(tmp_path):
    cfg = compose_config(
        "train",
        [
            "data=imagefolder",
            "data.root=/data/flowers",
            "data.num_classes=3",
            "model/optimizer=sgd",
        ],
        tmp_path,
    )
    values, first = curated_hparams(cfg)
    assert values["model/optimizer"] == "SGD" and values["model/optimizer/momentum"] == 0.9
    assert values["data/crop_scale"] == "0.08,1.0"  # a list, as one string
    assert values["seed"] == 42 and values["tags"] == "dev"
    assert values["data/train_crop"] == "random_resized"
    # outside Hydra there are no overrides: the headline columns come first
    assert first == {
        "model/optimizer/lr",
        "model/optimizer/weight_decay",
        "model/net/variant",
        "model/net/dropout",
        "seed",
    }
    assert "data/root" not in values and not [k for k in values if "target" in k or "partial" in k]
    assert "/data/flowers" not in values.values()

    columns, session = hparams_summaries(cfg, trial_id="train/runs/x")
    experiment = hparams_metadata.parse_experiment_plugin_data(
        columns.value[0].metadata.plugin_data.content
    )
    assert [m.name.tag for m in experiment.metric_infos] == list(METRICS)
    types = {h.name: h.type for h in experiment.hparam_infos}
    assert types["model/optimizer/lr"] == api_pb2.DATA_TYPE_FLOAT64
    assert types["model/net/variant"] == api_pb2.DATA_TYPE_STRING
    assert not [h for h in experiment.hparam_infos if h.HasField("domain_discrete")]
    start = hparams_metadata.parse_session_start_info_plugin_data(
        session.value[0].metadata.plugin_data.content
    )
    assert start.group_name == "train/runs/x"  # one HParams row per run
    assert set(start.hparams) == set(values)
