"""`eval.metric_definition`: an added field (old hashes kept), a named definition, checked at config time."""

from __future__ import annotations

import pytest

from wsnas.config import ADDED_FIELDS, load_config
from wsnas.core.errors import ConfigError


def test_default_keeps_old_hashes_and_authors_is_a_new_identity():
    assert ADDED_FIELDS["eval.metric_definition"] == "paper"
    base = load_config(None, [])
    assert base.eval.metric_definition == "paper"
    d = base.to_dict()
    d["eval"].pop("metric_definition")  # a config from before the field existed
    from wsnas.config import experiment_hash

    assert experiment_hash(d) == base.hash()
    authors = load_config(None, ["eval.metric_definition=authors"])
    assert authors.hash() != base.hash()  # it changes the numbers a run reports


def test_resolved_per_space():
    assert (load_config(None, []).metrics().threshold, load_config(None, []).metrics().k) == (0.1, 3)
    nb201 = load_config(None, ["eval.metric_definition=authors"]).metrics()
    assert (nb201.name, nb201.threshold, nb201.k) == ("authors", 1.0, 10)
    nb101 = load_config(None, ["space.name=nb101", "eval.metric_definition=authors"]).metrics()
    assert nb101.k == 5


@pytest.mark.parametrize(
    "overrides, match",
    [
        (["eval.metric_definition=authors", "eval.top_k=5"], "key 'eval.metric_definition'.*fixes"),
        (["eval.metric_definition=authors", "eval.sparse_threshold=0.5"], "fixes the bin width"),
        (["eval.metric_definition=authors", "eval.pool_size=8"], "top-10 is.*larger than eval.pool_size"),
        (["eval.metric_definition=mine"], "eval.metric_definition"),
    ],
)
def test_bad_combinations_are_config_errors(overrides, match):
    with pytest.raises(ConfigError, match=match):
        load_config(None, overrides)
