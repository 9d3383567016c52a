"""Shared helpers for the benchmarks: a timer that resists noise, and realistic documents.

These machines are noisy, so every figure is a ratio against a baseline measured in the same run, and each
timing is the best of several interleaved rounds.
"""

from __future__ import annotations

import timeit
from collections.abc import Callable


def best_time(func: Callable[[], object], *, number: int, rounds: int = 7) -> float:
    """Seconds per call: the best of `rounds` rounds of `number` calls."""
    return min(timeit.repeat(func, number=number, repeat=rounds)) / number


def compare(
    subject: Callable[[], object],
    baseline: Callable[[], object],
    *,
    number: int,
    rounds: int = 7,
    baseline_number: int | None = None,
) -> tuple[float, float]:
    """Best seconds per call of `subject` and `baseline`, measured in alternating rounds.

    `baseline_number` (default `number`) lets a much cheaper baseline run as many calls as make its rounds
    as long as the subject's: these machines lose the CPU to their neighbours in short bursts, which hit
    every round of the longer one but only some of the shorter one's, and the best of each would then
    compare a quiet baseline with a disturbed subject."""
    baseline_number = baseline_number or number
    subject_best = baseline_best = float("inf")
    for _ in range(rounds):
        subject_best = min(subject_best, timeit.timeit(subject, number=number) / number)
        baseline_best = min(baseline_best, timeit.timeit(baseline, number=baseline_number) / baseline_number)
    return subject_best, baseline_best


def conference_document(users: int, *, version: int = 1, indent: bool = True) -> bytes:
    """A full conference-info document shaped like a bridge's: per user a display name, one endpoint with
    status, joining info and one audio medium."""
    nl, i1, i2, i3, i4 = ("\n", "  ", "    ", "      ", "        ") if indent else ("", "", "", "", "")
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<conference-info xmlns="urn:ietf:params:xml:ns:conference-info" entity="sip:weekly@bridge.example.com" state="full" version="{version}">',
        f"{i1}<conference-description>{nl}{i2}<display-text>Weekly meeting</display-text>{nl}"
        f"{i2}<conf-uris>{nl}{i3}<entry><uri>sip:weekly@bridge.example.com</uri><purpose>participation</purpose></entry>{nl}{i2}</conf-uris>{nl}"
        f"{i1}</conference-description>",
        f"{i1}<conference-state>{nl}{i2}<user-count>{users}</user-count>{nl}{i2}<active>true</active>{nl}{i1}</conference-state>",
        f"{i1}<users>",
    ]
    for n in range(users):
        parts.append(
            f'{i2}<user entity="sip:user{n}@example.com" state="full">{nl}'
            f"{i3}<display-text>User Number {n}</display-text>{nl}"
            f'{i3}<endpoint entity="sip:user{n}@192.0.2.{n % 250}:5060" state="full">{nl}'
            f"{i4}<status>connected</status>{nl}"
            f"{i4}<joining-method>dialed-in</joining-method>{nl}"
            f"{i4}<joining-info><when>2026-11-24T10:00:00Z</when></joining-info>{nl}"
            f'{i4}<media id="{n}1"><type>audio</type><label>main-audio</label><src-id>{1000 + n}</src-id><status>sendrecv</status></media>{nl}'
            f"{i3}</endpoint>{nl}"
            f"{i2}</user>"
        )
    parts += [f"{i1}</users>", "</conference-info>", ""]
    return nl.join(parts).encode() if indent else "".join(parts).encode()
