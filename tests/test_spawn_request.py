"""The spawn request: the one message that tells the zygote how to build a worker, checked on arrival."""

import json

import pytest

from coursekit.worker.spawn import SpawnRequest

REQUEST = SpawnRequest(module="batchnorm", scenarios="_kit_scenarios_batchnorm", uid=None,
                       rlimits={"RLIMIT_CPU": 60}, scratch_bytes=1 << 20, tier="landlock", scratch="/tmp/kit-worker-x",
                       environment={"HOME": "/tmp/kit-worker-x"}, readable=("/usr",), devices=("/dev/null",))


def test_a_request_survives_the_trip_as_json():
    message = json.loads(json.dumps({"op": "spawn", "seq": 3, **REQUEST.to_message()}))
    assert SpawnRequest.from_message(message) == REQUEST


@pytest.mark.parametrize("edit", [{"tier": "docker"}, {"tier": True}, {"uid": "0"}, {"readable": "/usr"},
                                  {"extra": 1}])
def test_a_malformed_request_is_refused(edit):
    with pytest.raises(ValueError):
        SpawnRequest.from_message({**REQUEST.to_message(), **edit})


def test_only_the_bubblewrap_tier_confines_a_worker_in_namespaces():
    assert not REQUEST.confined
    assert SpawnRequest.from_message({**REQUEST.to_message(), "tier": "bubblewrap"}).confined
