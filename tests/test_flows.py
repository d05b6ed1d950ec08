import pytest

from tiktok.web.flows import LoginFlows, StateError


class Clock:
    def __init__(self, now=1_000_000.0):
        self.now = now

    def __call__(self):
        return self.now


def test_a_flow_finishes_once_with_its_state():
    flows = LoginFlows(clock=Clock())
    flow_id, pending = flows.start()
    assert flows.finish(flow_id, pending.state).verifier == pending.verifier
    with pytest.raises(StateError) as err:
        flows.finish(flow_id, pending.state)
    assert err.value.kind == "reused"


def test_mismatched_state_consumes_the_flow():
    flows = LoginFlows(clock=Clock())
    flow_id, pending = flows.start()
    with pytest.raises(StateError) as err:
        flows.finish(flow_id, pending.state + "x")
    assert err.value.kind == "mismatched"
    with pytest.raises(StateError) as err:
        flows.finish(flow_id, pending.state)
    assert err.value.kind == "reused"


def test_expired_after_ten_minutes():
    clock = Clock()
    flows = LoginFlows(clock=clock)
    flow_id, pending = flows.start()
    clock.now += 601
    with pytest.raises(StateError) as err:
        flows.finish(flow_id, pending.state)
    assert err.value.kind == "expired"


def test_ten_minutes_exactly_is_still_fine():
    clock = Clock()
    flows = LoginFlows(clock=clock)
    flow_id, pending = flows.start("open-1")
    clock.now += 600
    assert flows.finish(flow_id, pending.state).relink_open_id == "open-1"


@pytest.mark.parametrize("flow_id, state", [(None, "s"), ("unknown", "s"), ("x", None), ("x", "")])
def test_missing_flow_or_state(flow_id, state):
    with pytest.raises(StateError) as err:
        LoginFlows(clock=Clock()).finish(flow_id, state)
    assert err.value.kind == "missing"


def test_states_and_verifiers_are_random_and_separate():
    flows = LoginFlows(clock=Clock())
    results = [flows.start() for _ in range(20)]
    assert len({p.state for _, p in results}) == 20
    assert len({fid for fid, _ in results}) == 20
    assert all(p.state != p.verifier for _, p in results)
    pending = results[0][1]
    assert pending.state not in repr(pending) and pending.verifier not in repr(pending)
