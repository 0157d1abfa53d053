"""NAB scorer on hand-built files with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cloudledger.operate.nab_score import (
    STANDARD,
    Profile,
    ScoringFrame,
    normalised,
    probationary_length,
    scaled_sigmoid,
)

N = 1000  # probationary rows: 150
TS = np.datetime64("2020-01-01T00:00") + np.arange(N) * np.timedelta64(5, "m")
WINDOWS = [(TS[400], TS[499]), (TS[700], TS[799])]


def frame() -> ScoringFrame:
    return ScoringFrame.build(TS, WINDOWS)


def det(*rows: int) -> np.ndarray:
    d = np.zeros(N, dtype=bool)
    d[list(rows)] = True
    return d


def S(x: float) -> float:
    return 2.0 / (1.0 + math.exp(5.0 * x)) - 1.0


def test_probationary_length() -> None:
    assert probationary_length(1000) == 150
    assert probationary_length(10000) == 750
    assert scaled_sigmoid(3.0) == -1.0


def test_perfect_scores_100_and_null_0() -> None:
    f = frame()
    assert normalised([f.score(det(400, 700), STANDARD)]) == pytest.approx(100.0)
    assert normalised([f.score(det(), STANDARD)]) == pytest.approx(0.0)


def test_only_the_earliest_detection_of_a_window_counts() -> None:
    one = frame().score(det(400), STANDARD)
    many = frame().score(det(400, 420, 450, 499), STANDARD)
    assert many.raw == pytest.approx(one.raw)
    assert one.raw == pytest.approx(1.0 - 1.0)  # one window found (1), one missed (-1)


def test_late_detection_gets_the_sigmoid_weight() -> None:
    # Row 450 of the window 400..499: p = -(499 - 450 + 1) / 100 = -0.5.
    part = frame().score(det(450), STANDARD)
    assert part.raw == pytest.approx(S(-0.5) / S(-1.0) - 1.0)
    # The last row of a window: p = -1/100, almost worthless.
    last = frame().score(det(499), STANDARD)
    assert last.raw == pytest.approx(S(-0.01) / S(-1.0) - 1.0)


def test_false_positives() -> None:
    f = frame()
    before = f.score(det(200), STANDARD)  # before any window: -fpWeight
    assert before.raw == pytest.approx(-2.0 - 0.11)
    just_after = f.score(det(500), STANDARD)  # 1 row past the window of width 100
    assert just_after.raw == pytest.approx(-2.0 + 0.11 * S(1 / 99))
    far_after = f.score(det(650), STANDARD)  # 151 rows past: 151/99 of a width
    assert far_after.raw == pytest.approx(-2.0 + 0.11 * S(151 / 99))
    assert before.fp == just_after.fp == 1


def test_probationary_rows_are_not_scored() -> None:
    assert frame().score(det(10, 100), STANDARD).raw == pytest.approx(-2.0)


def test_profiles_weigh_misses_and_false_positives() -> None:
    low_fn = Profile("reward_low_FN_rate", 1.0, 2.0, 0.11)
    part = frame().score(det(200, 400), low_fn)
    assert part.raw == pytest.approx(1.0 - 2.0 - 0.11)
    # normalised: (raw - null) / (perfect - null) with null -4, perfect 2
    assert normalised([part]) == pytest.approx(100 * (part.raw + 4.0) / 6.0)


def test_wrong_length_is_an_error() -> None:
    with pytest.raises(ValueError, match="detections"):
        frame().score(np.zeros(3, dtype=bool), STANDARD)
