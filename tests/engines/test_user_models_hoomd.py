"""Model files a user makes run unchanged in the HOOMD analyzer (OrderMLWriter) and label as offline.

* own classes from reference frames: ``md-orderml train --reference bcc=bcc.gsd --reference a15=a15.xyz
  --backbone default`` (:mod:`user_models`, about 15 s);
* a discovery model: ``md-orderml discover mix.gsd -o out --export clusters.pt --model default`` on
  frames of fcc, bcc, sc and cd (:mod:`user_models`).

A crystal (:mod:`crystal_cases`, 2.5 % noise) is labelled after 5 NVE steps from rest
(``hoomd_rank_helper.on_the_fly``): the writer's labels equal :class:`md_orderml.OrderML` on the
last snapshot, >= 95 % get the crystal's class (for the discovery model the cluster whose nearest
built-in class is that crystal, summary.json), and the counts by class name are the numbers labelled.
"""

import pytest

from conftest import NO_HOOMD, hoomd_available
from crystal_cases import assert_labelled_as
from user_models import cluster_of, discover, train_references, write_reference_files

pytestmark = pytest.mark.skipif(not hoomd_available(), reason=NO_HOOMD)


@pytest.fixture(scope="module")
def device():
    import hoomd

    return hoomd.device.CPU(notice_level=1)


@pytest.fixture(scope="module")
def reference_model(tmp_path_factory):
    d = write_reference_files(tmp_path_factory.mktemp("references"))
    return train_references(d / "own.pt", f"bcc={d / 'bcc.gsd'}", f"a15={d / 'a15.xyz'}", backbone="default")


@pytest.fixture(scope="module")
def discovered(tmp_path_factory):
    return discover(tmp_path_factory.mktemp("discover"))


def assert_on_the_fly(device, model, kind: str, class_name: str) -> None:
    """``model`` labels the ``kind`` crystal in HOOMD as OrderML does offline, >= 95 % ``class_name``."""
    import hoomd_rank_helper as helper

    labels, snapshot = helper.on_the_fly(device, model, kind)
    assert labels.labelled_step == 5 and labels.route == "serial"
    assert_labelled_as(class_name, labels.label, labels.class_names, helper.named_counts(labels),
                       helper.offline(model, snapshot).labels)


@pytest.mark.parametrize("kind", ["a15", "bcc"])
def test_reference_model_on_the_fly(device, reference_model, kind):
    assert_on_the_fly(device, reference_model, kind, kind)


def test_discovery_model_on_the_fly(device, discovered):
    assert_on_the_fly(device, discovered / "clusters.pt", "bcc", cluster_of(discovered, "bcc"))
