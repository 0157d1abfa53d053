"""explain on the drawn topology (tests/allocate/test_topology.py): a filter that matches
nothing is an error (exit 2) that says which filter and suggests a close match."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cloudledger.allocate import allocate, explain
from cloudledger.cli import app
from cloudledger.config import settings_from
from cloudledger.errors import InputError
from cloudledger.store import Store
from tests.allocate.conftest import make_focus
from tests.allocate.test_topology import MAY, SETTINGS, add_metrics, june_rows


@pytest.fixture()
def allocated(store: Store) -> Store:
    make_focus(store, MAY + june_rows())
    add_metrics(store)
    allocate(store, settings_from(SETTINGS))
    return store


@pytest.mark.parametrize(("kwargs", "message", "where"), [
    ({"owner": {"team": "wbe"}}, "no team 'wbe' in the allocated table; did you mean 'web'?",
     "--team"),
    ({"owner": {"team": "web"}, "month": "2018-13"}, "'2018-13' is not a month", "--month"),
    ({"owner": {"team": "web"}, "month": "2018-12"}, "no allocated cost in 2018-12",
     "--month"),
    ({"owner": {"team": "payments"}, "month": "2026-05"},
     "team=payments has no allocated cost in 2026-05", "--month"),
    ({"resource_id": "r33"}, "no resource 'r33' in the store; did you mean 'r3'?",
     "--resource"),
    ({"resource_id": "does-not-exist-anywhere-at-all"}, "no resource", "--resource"),
])
def test_nothing_matches(allocated: Store, kwargs: dict, message: str, where: str) -> None:
    with pytest.raises(InputError, match=message.replace("?", r"\?").replace("(", r"\(")) as e:
        explain(allocated, settings_from(SETTINGS), **kwargs)
    assert e.value.where == where


def test_pooled_resource_says_so(store: Store) -> None:
    from tests.allocate.conftest import frow

    make_focus(store, [frow("2026-05", "10", tags={"team": "web"}),
                       frow("2026-05", "4", service="Support", resource="support-plan")])
    settings = settings_from({**SETTINGS, "shared": [
        {"name": "support", "match": {"service": "Support"}}], "rules": []})
    allocate(store, settings)
    with pytest.raises(InputError, match="no direct allocated cost: all of it is in shared"):
        explain(store, settings, resource_id="support-plan")


def test_cli_exit_2_with_suggestion(allocated: Store, tmp_path: Path) -> None:
    if allocated.is_spark:
        pytest.skip("the CLI opens a DuckDB store file; the library path above runs on Spark")
    path = str(allocated.path)
    allocated.close()
    cfg = tmp_path / "c.yaml"
    cfg.write_text(json.dumps(SETTINGS))
    runner = CliRunner()
    ok = runner.invoke(app, ["explain", "--store", path, "--config", str(cfg), "--team", "web",
                             "--month", "2026-05"])
    assert ok.exit_code == 0 and "729" in ok.output
    for args, text in [(["--team", "wbe"], "did you mean 'web'?"),
                       (["--team", "web", "--month", "2018-13"], "not a month"),
                       (["--resource", "nope"], "no resource 'nope'")]:
        res = runner.invoke(app, ["explain", "--store", path, "--config", str(cfg), *args])
        assert res.exit_code == 2, res.output
        assert text in res.output
