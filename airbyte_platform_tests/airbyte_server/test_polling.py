"""The adaptive poll schedule, simulated: detection delay and poll counts for short and 12-hour jobs."""

from __future__ import annotations

import pytest

from airbyte_platform.ingestion.airbyte_server.polling import (
    PollSchedule,
    expected_duration,
    parse_iso_duration,
)

TWELVE_HOURS = 12 * 3600.0


def simulate(
    duration: float,
    expected: float | None,
    schedule: PollSchedule | None = None,
    request_seconds: float = 0.0,
) -> tuple[int, float]:
    """(polls, detection delay) for a job that ends after `duration` seconds.

    `request_seconds`: added to every interval, as if each poll woke up that late (the runner
    measures intervals from each poll's start, so request time alone adds only once: this is
    the pessimistic case).
    """
    schedule = schedule or PollSchedule()
    elapsed, polls = 0.0, 0
    while elapsed < duration:
        elapsed += schedule.next_delay(elapsed, expected) + request_seconds
        polls += 1
    return polls, elapsed - duration


@pytest.mark.parametrize("duration", [0.3, 1, 5, 30])
def test_short_jobs_are_noticed_within_a_second(duration):
    polls, delay = simulate(duration, None)
    assert delay <= 1.0
    assert polls <= duration / 0.5 + 2


def test_a_12_hour_job_with_history_takes_at_most_200_polls_and_is_noticed_within_a_minute():
    polls, delay = simulate(TWELVE_HOURS, expected=TWELVE_HOURS)
    assert polls <= 200
    assert delay <= 60.0


@pytest.mark.parametrize("ratio", [0.96, 1.0, 1.05, 1.2])
def test_jobs_ending_near_or_after_their_usual_duration_are_noticed_within_a_minute(ratio):
    polls, delay = simulate(TWELVE_HOURS * ratio, expected=TWELVE_HOURS)
    assert delay <= 60.0
    assert polls <= 200 + (ratio - 1) * TWELVE_HOURS / 60


@pytest.mark.parametrize("ratio", [0.97, 0.985, 0.99, 0.995, 0.999, 1.0])
def test_a_minute_holds_even_when_each_poll_takes_seconds(ratio):
    # 4 s late at every poll: far beyond a real host; what 11 ms of lateness looks like in
    # bench/airbyte_sync.py, whose 12-hour job runs 360x faster than real time.
    polls, delay = simulate(TWELVE_HOURS * ratio, expected=TWELVE_HOURS, request_seconds=4.0)
    assert delay <= 60.0
    assert polls <= 200


def test_a_job_ending_much_earlier_than_usual_is_noticed_within_the_far_interval():
    _, delay = simulate(TWELVE_HOURS / 3, expected=TWELVE_HOURS)
    assert delay <= PollSchedule().far_interval


def test_without_history_detection_stays_within_a_minute_and_ten_percent():
    polls, delay = simulate(TWELVE_HOURS, expected=None)
    assert delay <= 60.0
    assert polls < TWELVE_HOURS / 10 / 5  # vs 4,320 polls at dagster-airbyte's fixed 10 s
    _, delay_short = simulate(120, expected=None)
    assert delay_short <= 0.1 * 120 + 0.5


def test_short_history_is_ignored():
    assert PollSchedule().next_delay(10, expected=30) == PollSchedule().next_delay(10, expected=None)


def test_iso_durations_and_expected_duration():
    assert parse_iso_duration("PT12H3M4S") == 12 * 3600 + 3 * 60 + 4
    assert parse_iso_duration("P1DT1S") == 86401
    assert parse_iso_duration("PT0.5S") == 0.5
    assert parse_iso_duration("12 hours") is None
    assert parse_iso_duration(None) is None
    jobs = [
        {"status": "running", "jobType": "sync", "duration": "PT1S"},
        {"status": "succeeded", "jobType": "sync", "duration": "PT10H"},
        {"status": "failed", "jobType": "sync", "duration": "PT1H"},
        {"status": "succeeded", "jobType": "reset", "duration": "PT1M"},
        {"status": "succeeded", "jobType": "sync", "duration": "PT12H"},
        {"status": "succeeded", "jobType": "sync", "duration": "PT14H"},
    ]
    assert expected_duration(jobs) == 12 * 3600
    assert expected_duration([]) is None
