"""The optimization's status line: live on a terminal, a plain line now and then elsewhere."""

import io
import threading
import time

import pytest
from terminal import FakeTerminal, screen
from tqdm import tqdm

from nst.progress import JobsLine, StatusLine


def test_on_a_terminal_the_status_line_is_drawn_in_place_and_clear_erases_it():
    now = [0.0]
    terminal, plain = FakeTerminal(), io.StringIO()
    status = StatusLine(200, 10, stream=terminal, plain=plain, clock=lambda: now[0])
    for done in range(11, 101):  # resumed after iteration 10; two seconds per iteration
        now[0] = 2.0 * (done - 10)
        status.update(done, 1234.5)
    # 100 of 200 done; 100 left at 2 s each: 3 min 20 s
    assert screen(terminal.getvalue()) == [" 50%|#####     | 100/200, J 1234, 2.00s/it, 03:20 left"]
    status.clear()
    assert screen(terminal.getvalue()) == [""]
    assert plain.getvalue() == ""  # on a terminal no plain lines, however long the quiet


def test_off_a_terminal_progress_is_a_plain_line_after_a_quiet_while():
    now = [0.0]
    stream, plain = io.StringIO(), io.StringIO()
    status = StatusLine(200, stream=stream, plain=plain, quiet_seconds=30, clock=lambda: now[0])
    for done in range(1, 101):
        now[0] = done * 1.0  # one second per iteration
        status.update(done, 1234.5)
        if done == 40:
            status.clear()  # the caller printed the costs: the quiet time starts again
    status.clear()
    assert stream.getvalue() == ""  # nothing rewritten in place: not a terminal
    assert plain.getvalue().splitlines() == [
        "iteration 30/200, J 1234, 1.00s/it, 02:50 left",
        "iteration 70/200, J 1234, 1.00s/it, 02:10 left",
        "iteration 100/200, J 1234, 1.00s/it, 01:40 left",
    ]


def test_the_bars_make_no_tqdm_object_and_use_only_its_public_formatters(monkeypatch):
    """A tqdm object's attributes are tqdm's own business: the bars format with tqdm's
    public static functions (format_meter, format_interval, format_sizeof) and hold its
    write lock, and never make one."""

    def refused(self, *args, **kwargs):
        raise AssertionError("a tqdm object was made")

    monkeypatch.setattr(tqdm, "__init__", refused)
    now = [0.0]
    terminal, plain = FakeTerminal(), io.StringIO()
    with StatusLine(10, stream=terminal, clock=lambda: now[0]) as status:
        now[0] = 1.0
        status.update(1)
        now[0] = 3.0
        status.update(3, 5.0)
        assert screen(terminal.getvalue()) == [" 30%|###       | 3/10, J 5, 1.00s/it, 00:07 left"]
    now[0] = 0.0
    with JobsLine(4, stream=io.StringIO(), plain=plain, clock=lambda: now[0]) as jobs:
        now[0] = 10.0
        jobs.show(1, 2, 0)  # 3 jobs left at 10 s each
    assert plain.getvalue() == "jobs 1/4 done, 2 running, 0 failed, 00:30 left\n"


def test_the_time_left_weighs_each_iteration_by_its_work_and_then_leaves_out_the_first():
    """Coarse to fine: two iterations at 100 pixels, then two at 400. The first iteration
    also built the graph (5 s): the first estimate counts it; once the second took 1 s, an
    iteration at 400 pixels is expected to take 4 s, not 1 s (unweighed) nor 12 s."""
    now = [0.0]
    plain = io.StringIO()
    status = StatusLine(
        4, stream=io.StringIO(), plain=plain, quiet_seconds=0, clock=lambda: now[0],
        weights=[100, 100, 400, 400],
    )  # fmt: skip
    for done, seconds in ((1, 5.0), (2, 6.0), (3, 10.0)):
        now[0] = seconds
        status.update(done)
    status.close()
    assert plain.getvalue().splitlines() == [
        "iteration 0/4, ?s/it, ? left",  # nothing done yet: no pace
        "iteration 1/4, 5.00s/it, 00:45 left",  # 100 + 400 + 400 pixels left at 0.05 s
        "iteration 2/4, 4.00s/it, 00:08 left",  # 400 + 400 left at 0.01 s, the second's pace
        "iteration 3/4, 4.00s/it, 00:04 left",
    ]


def test_weights_are_one_per_iteration():
    with pytest.raises(ValueError, match="3 weights for 4 iterations"):
        StatusLine(4, stream=io.StringIO(), plain=io.StringIO(), weights=[1, 1, 1])


class Watched(io.StringIO):
    """A text stream that says when something is written to it (`written`)."""

    def __init__(self) -> None:
        super().__init__()
        self.written = threading.Event()

    def write(self, text: str) -> int:
        count = super().write(text)
        self.written.set()
        return count


class WatchedTerminal(Watched, FakeTerminal):
    pass


def beating_off_a_terminal(plain: io.StringIO, now: list[float]) -> StatusLine:
    """A status line of 200 iterations off a terminal, its plain lines on `plain` after
    30 s of quiet, its clock now[0], its heartbeat every millisecond."""
    return StatusLine(
        200, stream=io.StringIO(), plain=plain, quiet_seconds=30, clock=lambda: now[0],
        heartbeat=0.001,
    )  # fmt: skip


def test_off_a_terminal_a_long_iteration_still_gets_a_line_after_the_quiet_while():
    """The heartbeat prints the plain line after quiet_seconds of silence although no
    iteration ends: 34 s into the third iteration, the second having taken 1 s."""
    now = [0.0]
    plain = Watched()
    status = beating_off_a_terminal(plain, now)
    now[0] = 5.0
    status.update(1, 1234.5)
    now[0] = 6.0
    status.update(2, 1234.5)
    assert plain.getvalue() == ""
    now[0] = 40.0  # and no update
    plain.written.wait()
    status.close()  # waits for a line under way: it holds the lock
    # timed from the first update: 1 iteration done in 35 s; 198 left at 35 s: 1 h 55 min 30 s
    assert plain.getvalue().splitlines() == ["iteration 2/200, J 1234, 35.0s/it, 1:55:30 left"]


def test_on_a_terminal_the_heartbeat_redraws_the_bar_during_a_long_iteration():
    now = [0.0]
    terminal = WatchedTerminal()
    status = StatusLine(200, stream=terminal, clock=lambda: now[0], heartbeat=0.001)
    now[0] = 20.0
    status.update(10, 1234.5)
    now[0] = 40.0
    status.update(20, 1234.5)  # 2 s per iteration
    with status.lock:  # no drawing under way
        now[0] = 50.0  # 10 s into the 21st iteration
        terminal.written.clear()
    terminal.written.wait()
    with status.lock:
        shown = screen(terminal.getvalue())
    status.close()
    # 10 iterations in 30 s; 180 left at 3 s each: 9 min
    assert shown == [" 10%|#         | 20/200, J 1234, 3.00s/it, 09:00 left"]
    assert screen(terminal.getvalue()) == [""]


def test_nothing_cuts_into_lines_printed_aside_nor_follows_a_clear():
    """While the caller prints the costs (aside) the heartbeat is silent, and the quiet
    time starts again after them; after clear() it is silent until the next update."""
    now = [0.0]
    plain = io.StringIO()
    status = beating_off_a_terminal(plain, now)
    now[0] = 1.0
    status.update(1, 1234.5)
    with status.aside():
        print("Iteration 0 :", file=plain)
        now[0] = 100.0  # long past the quiet time
        time.sleep(0.05)  # fifty heartbeats
        print("total cost = 1234.5", file=plain)
    time.sleep(0.05)  # the quiet time starts again at 100 s
    status.clear()
    now[0] = 1000.0
    time.sleep(0.05)
    with status.lock:
        assert plain.getvalue().splitlines() == ["Iteration 0 :", "total cost = 1234.5"]
    status.close()
