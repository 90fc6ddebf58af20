"""HTTP and Prometheus helpers for tests of a running EdgePort's ops server."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def health(port: int) -> tuple[int, dict]:
    status, body = get(port, "/healthz")
    return status, json.loads(body)


def wait_for_health(port: int, predicate, timeout: float = 30.0) -> tuple[int, dict]:
    """Poll /healthz until predicate(status, body) holds; fail with the last answer."""
    deadline = time.monotonic() + timeout
    while True:
        status, body = health(port)
        if predicate(status, body):
            return status, body
        if time.monotonic() > deadline:
            raise AssertionError(f"/healthz never matched; last answer {status} {body}")
        time.sleep(0.2)  # polling pace


def samples(port: int) -> dict[tuple[str, tuple], float]:
    status, text = get(port, "/metrics")
    assert status == 200
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def total(metrics: dict, name: str, **labels: str) -> float:
    """Sum of the samples of `name` whose labels include `labels`."""
    return sum(
        value
        for (sample, sample_labels), value in metrics.items()
        if sample == name and set(labels.items()) <= set(sample_labels)
    )


def wait_for_metric(port: int, name: str, at_least: float, timeout: float = 30.0, **labels: str) -> float:
    """Poll /metrics until the sum of `name` (with `labels`) is at least `at_least`; its value."""
    return _wait_for_value(port, name, lambda v: v >= at_least, f">= {at_least}", timeout, labels)


def wait_for_metric_at_most(
    port: int, name: str, at_most: float, timeout: float = 30.0, **labels: str
) -> float:
    """Poll /metrics until the sum of `name` (with `labels`) is at most `at_most`; its value."""
    return _wait_for_value(port, name, lambda v: v <= at_most, f"<= {at_most}", timeout, labels)


def _wait_for_value(port: int, name: str, accept, expected: str, timeout: float, labels: dict) -> float:
    deadline = time.monotonic() + timeout
    while True:
        value = total(samples(port), name, **labels)
        if accept(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{name}{labels} stayed at {value}, expected {expected}")
        time.sleep(0.2)  # polling pace
