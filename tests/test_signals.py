"""rig.signals.Signal: the one observer mechanism (hub frames, radio state, hub events, alerts)."""

import logging

from rig.signals import Signal


def test_listeners_hear_in_order_and_disconnect_by_the_returned_callable() -> None:
    heard: list = []
    signal = Signal("test")
    first = signal.connect(lambda x: heard.append(("a", x)))
    signal.connect(lambda x: heard.append(("b", x)))
    signal.emit(1)
    first()
    signal.emit(2)
    assert heard == [("a", 1), ("b", 1), ("b", 2)]
    assert len(signal) == 1


def test_disconnect_matches_an_equal_bound_method_and_is_a_no_op_when_absent() -> None:
    heard: list = []
    signal = Signal("test")
    signal.connect(heard.append)
    signal.disconnect(heard.append)  # a new bound-method object, equal to the connected one
    signal.disconnect(heard.append)  # no longer connected: nothing happens
    signal.emit(1)
    assert heard == [] and signal.listeners == ()


def test_a_listener_that_raises_is_logged_and_the_others_still_hear(caplog) -> None:
    heard: list = []
    signal = Signal("frames")

    def broken(x):
        raise RuntimeError("observer bug")

    signal.connect(broken)
    signal.connect(heard.append)
    with caplog.at_level(logging.ERROR, logger="rig.signals"):
        signal.emit(7)
    assert heard == [7]
    assert "frames listener" in caplog.text and "observer bug" in caplog.text


def test_a_listener_may_disconnect_itself_while_called() -> None:
    heard: list = []
    signal = Signal("test")
    stop = None

    def once(x):
        heard.append(x)
        stop()

    stop = signal.connect(once)
    signal.emit(1)
    signal.emit(2)
    assert heard == [1]
