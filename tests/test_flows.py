import pytest

from tiktok.web.flows import LoginFlows, StateError, TooManyLogins


class Clock:
    def __init__(self, now=1_000_000.0):
        self.now = now

    def __call__(self):
        return self.now


def kind_of(flows, browser, state) -> str:
    with pytest.raises(StateError) as err:
        flows.finish(browser, state)
    return err.value.kind


def test_a_login_finishes_once_with_its_state():
    flows = LoginFlows(clock=Clock())
    pending = flows.start("browser-a")
    assert flows.finish("browser-a", pending.state).verifier == pending.verifier
    assert kind_of(flows, "browser-a", pending.state) == "reused"


def test_a_wrong_state_leaves_the_login_in_progress():
    flows = LoginFlows(clock=Clock())
    pending = flows.start("browser-a")
    assert kind_of(flows, "browser-a", pending.state + "x") == "mismatched"
    assert flows.finish("browser-a", pending.state).verifier == pending.verifier


def test_only_the_browser_that_started_a_login_may_finish_it():
    flows = LoginFlows(clock=Clock())
    pending = flows.start("browser-a")
    assert kind_of(flows, "browser-b", pending.state) == "missing"
    assert kind_of(flows, None, pending.state) == "missing"
    assert flows.finish("browser-a", pending.state).verifier == pending.verifier  # still there for its owner


def test_several_logins_of_one_browser_each_finish_by_their_state():
    flows = LoginFlows(clock=Clock())
    first, second, third = (flows.start("browser-a", f"open-{i}") for i in range(3))
    assert flows.finish("browser-a", second.state).relink_open_id == "open-1"
    assert flows.finish("browser-a", first.state).relink_open_id == "open-0"
    assert flows.finish("browser-a", third.state).relink_open_id == "open-2"
    assert flows.in_progress("browser-a") == 0


def test_a_flood_from_one_browser_keeps_its_oldest_logins_and_everyone_elses():
    flows = LoginFlows(clock=Clock(), per_browser=8)
    person = flows.start("browser-a")
    other = flows.start("browser-b")
    flood = [flows.start("browser-a") for _ in range(300)]
    assert flows.in_progress("browser-a") == 8 and flows.in_progress("browser-b") == 1
    assert flows.finish("browser-a", person.state).verifier == person.verifier
    assert flows.finish("browser-b", other.state).verifier == other.verifier
    assert flows.finish("browser-a", flood[-1].state)  # the newest is always usable
    assert flows.finish("browser-a", flood[0].state)  # among the oldest seven kept
    assert kind_of(flows, "browser-a", flood[100].state) == "replaced"


def test_when_the_limit_is_reached_new_logins_wait_and_none_in_progress_is_dropped():
    clock = Clock()
    flows = LoginFlows(clock=clock, limit=3)
    started = [flows.start(f"browser-{i}") for i in range(3)]
    with pytest.raises(TooManyLogins):
        flows.start("browser-new")
    assert flows.in_progress("browser-new") == 0
    assert all(flows.finish(f"browser-{i}", p.state) for i, p in enumerate(started))
    assert flows.start("browser-new")  # room again
    clock.now += 601
    assert [flows.start(f"browser-{i}") for i in range(3)]  # expired ones made room


def test_expired_after_ten_minutes():
    clock = Clock()
    flows = LoginFlows(clock=clock)
    pending = flows.start("browser-a")
    clock.now += 601
    assert kind_of(flows, "browser-a", pending.state) == "expired"
    assert kind_of(flows, "browser-a", pending.state) == "expired"


def test_an_expired_login_cleared_by_a_later_start_still_says_expired():
    clock = Clock()
    flows = LoginFlows(clock=clock)
    pending = flows.start("browser-a")
    clock.now += 601
    flows.start("browser-b")
    assert kind_of(flows, "browser-a", pending.state) == "expired"


def test_ten_minutes_exactly_is_still_fine():
    clock = Clock()
    flows = LoginFlows(clock=clock)
    pending = flows.start("browser-a", "open-1")
    clock.now += 600
    flows.start("browser-b")
    assert flows.finish("browser-a", pending.state).relink_open_id == "open-1"


@pytest.mark.parametrize("browser, state", [(None, "s"), ("unknown", "s"), ("x", None), ("x", "")])
def test_missing_login_or_state(browser, state):
    assert kind_of(LoginFlows(clock=Clock()), browser, state) == "missing"


def test_states_verifiers_and_browser_ids_are_random_and_separate():
    flows = LoginFlows(clock=Clock())
    results = [flows.start("browser-a") for _ in range(8)]
    assert len({p.state for p in results}) == 8
    assert len({flows.new_browser_id() for _ in range(20)}) == 20
    assert all(p.state != p.verifier for p in results)
    pending = results[0]
    assert pending.state not in repr(pending) and pending.verifier not in repr(pending)
    assert pending.browser not in repr(pending)
