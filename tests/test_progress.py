"""The optimization's status line: live on a terminal, a plain line now and then elsewhere."""

import io

from terminal import FakeTerminal, screen

from nst.progress import StatusLine


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
