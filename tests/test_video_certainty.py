"""The certainty of an optical flow (Ruder, Dosovitskiy and Brox 2016), on flows whose every
value is known: a square moving over a still background, and a pan."""

import numpy as np

from nst.video.certainty import certainty, long_term_weights

HEIGHT, WIDTH = 24, 32
SIDE = 8
TOP, LEFT = 6, 10
"""The square's top-left pixel in the earlier frame s."""
STEP = 3
"""The square moves STEP pixels to the right from frame s to frame t."""


def square_flows() -> tuple[np.ndarray, np.ndarray]:
    """(w: from t to s over t's pixels, from s to t over s's pixels) for the moving square:
    in t the square covers columns LEFT + STEP .. and moved -STEP back to s; in s it covers
    columns LEFT .. and moves +STEP on to t; the background stands still."""
    to_s = np.zeros((HEIGHT, WIDTH, 2), np.float32)
    to_s[TOP : TOP + SIDE, LEFT + STEP : LEFT + STEP + SIDE, 0] = -STEP
    to_t = np.zeros((HEIGHT, WIDTH, 2), np.float32)
    to_t[TOP : TOP + SIDE, LEFT : LEFT + SIDE, 0] = STEP
    return to_s, to_t


def test_a_moving_square_is_uncertain_on_its_uncovered_strip_and_its_edges():
    c = certainty(*square_flows())
    assert c.dtype == np.float32 and c.shape == (HEIGHT, WIDTH)
    expected = np.ones((HEIGHT, WIDTH), np.float32)
    rows = slice(TOP, TOP + SIDE)
    left, right = LEFT + STEP, LEFT + STEP + SIDE  # the square's columns in t: left .. right - 1
    # the background the square uncovered: in t it stands still, but in s the square was there
    expected[rows, LEFT:left] = 0
    # the motion boundary: the pixel on each side of each edge of the square in t
    for column in (left - 1, left, right - 1, right):
        expected[rows, column] = 0
    for row in (TOP - 1, TOP, TOP + SIDE - 1, TOP + SIDE):
        expected[row, left:right] = 0
    assert np.array_equal(c, expected)
    # 3 x 8 uncovered; 4 x 8 + 4 x 8 - 4 on the edges (4 corners counted twice); less the 8
    # pixels of column left - 1, both uncovered and on an edge
    assert np.count_nonzero(c == 0) == 3 * 8 + 60 - 8


def test_a_pan_is_certain_except_where_the_view_came_in():
    # the whole view moves 2 pixels left from s to t: a point at p in t was at p + (2, 0) in s
    to_s = np.broadcast_to(np.float32([2, 0]), (HEIGHT, WIDTH, 2)).copy()
    c = certainty(to_s, -to_s)
    assert np.count_nonzero(c[:, : WIDTH - 2] == 0) == 0
    assert np.count_nonzero(c[:, WIDTH - 2 :]) == 0


def test_flows_that_disagree_by_more_than_the_threshold_are_uncertain():
    to_s = np.zeros((HEIGHT, WIDTH, 2), np.float32)
    to_t = np.zeros((HEIGHT, WIDTH, 2), np.float32)
    # |w + w~|^2 = 0.49 < 0.01 (0 + 0.49) + 0.5 at one pixel; 0.64 > 0.5064 at another
    to_t[5, 5] = (0.7, 0)
    to_t[5, 20] = (0, 0.8)
    c = certainty(to_s, to_t)
    assert c[5, 5] == 1 and c[5, 20] == 0
    assert np.count_nonzero(c == 0) == 1


def test_long_term_weights_count_each_pixel_for_its_nearest_certain_frame():
    c_1 = np.float32([1, 0, 0, 1, 0])
    c_2 = np.float32([1, 1, 0, 0, 0])
    c_4 = np.float32([1, 1, 1, 0, 0])
    weights = long_term_weights({4: c_4, 1: c_1, 2: c_2})
    assert sorted(weights) == [1, 2, 4]
    assert weights[1].tolist() == [1, 0, 0, 1, 0]
    assert weights[2].tolist() == [0, 1, 0, 0, 0]
    assert weights[4].tolist() == [0, 0, 1, 0, 0]
