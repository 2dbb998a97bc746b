"""Fixtures for the ops tests: metrics read back as numbers (objects go in with the shared `put` fixture)."""

import pytest
from prometheus_client.parser import text_string_to_metric_families


def parse_metrics(text):
    """Return {(sample name, frozenset of labels): value} of a Prometheus text exposition."""
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def sample(samples, name, **labels):
    """Return one sample's value (0 when absent, as Prometheus would treat a counter never incremented)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
def read_metrics(client):
    """Return the app's /_/metrics, parsed."""

    def read():
        with client.get("/_/metrics") as response:
            assert response.status_code == 200
            return parse_metrics(response.get_data(as_text=True))

    return read
