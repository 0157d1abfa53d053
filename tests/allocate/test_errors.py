"""Bad input: clear errors (what, where, what next) before anything is written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cloudledger.allocate import allocate, engine
from cloudledger.cli import app
from cloudledger.config import load_settings, settings_from
from cloudledger.errors import InputError, RunError
from cloudledger.store import Store
from tests.allocate.conftest import frow, make_focus


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "cloudledger.yaml"
    p.write_text(text)
    return p


def test_unknown_key_names_line_and_suggests(tmp_path: Path) -> None:
    p = write(tmp_path, "owners:\n  dimensions: [team]\n\nsharred:\n  - name: x\n")
    with pytest.raises(InputError) as e:
        load_settings(p)
    assert e.value.message == "unknown key 'sharred' at line 4; did you mean 'shared'?"
    assert e.value.where == str(p)


def test_nested_unknown_key(tmp_path: Path) -> None:
    p = write(tmp_path, "rules:\n  - name: r\n    match: {servce: S3}\n    set: {team: a}\n")
    with pytest.raises(InputError, match=r"unknown key 'servce' at line 3; did you mean "
                                         r"'service'\?"):
        load_settings(p)


def test_bad_yaml_names_line(tmp_path: Path) -> None:
    p = write(tmp_path, "owners:\n  dimensions: [team\n")
    with pytest.raises(InputError) as e:
        load_settings(p)
    assert "line" in str(e.value.where)


@pytest.mark.parametrize(("data", "message"), [
    ({"rules": [{"name": "r", "match": {"service": "S"}, "set": {"teem": "a"}}]},
     "unknown owner dimension 'teem'; did you mean 'team'?"),
    ({"shared": [{"name": "p", "match": {"service": "S"}, "split": "fixed",
                  "percentages": {"a": 60, "b": 30}}]}, "fixed percentages sum to 90"),
    ({"shared": [{"name": "p", "match": {"service": "S"}, "dimension": "tem"}]},
     "unknown owner dimension 'tem'"),
    ({"shared": [{"name": "p", "match": {"service": "S"}, "split": "metric"}]},
     "splits by metric but names none"),
    ({"shared": [{"name": "p", "match": {}}]}, "matches every row"),
    ({"rules": [{"name": "r", "match": {"resource_regex": "("}, "set": {"team": "a"}}]},
     "not a valid regular expression"),
    ({"commitments": {"unused_owner": {"squad": "x"}}}, "unknown owner dimension 'squad'"),
    ({"rules": [{"name": "r", "match": {"service": "S"}, "set": {"team": "a"}},
                {"name": "r", "match": {"service": "T"}, "set": {"team": "b"}}]},
     "two rules are named 'r'"),
])
def test_semantic_errors(data: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError, match=message.replace("?", r"\?")):
        settings_from(data)


def test_pool_cycles() -> None:
    a = {"name": "a", "match": {"owner": {"team": "platform"}}, "to": ["web", "api"]}
    b = {"name": "b", "match": {"owner": {"team": ["web"]}}, "to": ["platform"]}
    with pytest.raises(InputError, match="cycle: 'a' -> 'b' -> 'a'|cycle: 'b' -> 'a' -> 'b'"):
        settings_from({"shared": [a, b]})
    # a pool that takes its own output
    own = {"name": "own", "match": {"owner": {"team": "platform"}}}
    with pytest.raises(InputError, match="cycle: 'own' -> 'own'"):
        settings_from({"shared": [own]})
    # a chain is fine and runs in dependency order
    c = {"name": "c", "match": {"service": "Support"}, "to": ["platform", "web"]}
    d = {"name": "d", "match": {"owner": {"team": "platform"}}, "to": ["web", "api"]}
    from cloudledger.config import pool_order
    assert [p.name for p in pool_order(settings_from({"shared": [d, c]}))] == ["c", "d"]


def test_chained_pool_runs_after_the_pool_it_takes_from(store: Store) -> None:
    make_focus(store, [frow("2026-05", "30", tags={"team": "web"}),
                       frow("2026-05", "10", tags={"team": "api"}),
                       frow("2026-05", "20", tags={"team": "platform"}),
                       frow("2026-05", "8", service="Support")])
    c = {"name": "c", "match": {"service": "Support"}, "split": "even",
         "to": ["platform", "web"]}
    d = {"name": "d", "match": {"owner": {"team": "platform"}}, "to": ["web", "api"]}
    allocate(store, settings_from({"shared": [d, c]}))
    got = store.engine.query("SELECT team, SUM(EffectiveCost) AS c FROM allocated GROUP BY 1"
                        ).to_pylist()
    # c: platform 4, web 4; d: platform's 20 + 4 = 24 split 30:10 -> web 18, api 6
    assert {r["team"]: r["c"] for r in got} == {"web": 52, "api": 16}


def snapshot(store: Store) -> Any:
    if "allocated" not in store.tables():
        return None
    return sorted(map(str, store.engine.query("SELECT * FROM allocated").to_pylist()))


@pytest.fixture()
def loaded(store: Store) -> Store:
    make_focus(store, [frow("2026-05", "30", tags={"team": "web"}),
                       frow("2026-05", "8", service="Support")])
    allocate(store, settings_from({}))
    return store


@pytest.mark.parametrize(("data", "message"), [
    ({"rules": [{"name": "r", "match": {"column": {"x_Nope": "1"}}, "set": {"team": "a"}}]},
     "column 'x_Nope', which focus does not have"),
    ({"rules": [{"name": "r", "match": {"column": {"ServiceNam": "S"}},
                 "set": {"team": "a"}}]}, "did you mean 'ServiceName'"),
    ({"rules": [{"name": "r", "match": {"tag": {"teem": "a"}}, "set": {"team": "a"}}]},
     "matches tag 'teem', which no row carries; did you mean 'team'"),
    ({"shared": [{"name": "p", "match": {"service": "Support"}, "split": "metric",
                  "metric": "requests"}]}, "has no metrics"),
])
def test_store_errors_leave_the_store_unchanged(loaded: Store, data: dict[str, Any],
                                                message: str) -> None:
    before = snapshot(loaded)
    with pytest.raises(InputError, match=message):
        allocate(loaded, settings_from(data))
    assert snapshot(loaded) == before


def test_conservation_failure_rolls_back(loaded: Store, monkeypatch: pytest.MonkeyPatch
                                         ) -> None:
    from cloudledger.allocate import pools

    before = snapshot(loaded)
    real = pools.split_sql

    def leaky(*args: Any, **kwargs: Any) -> str:  # the largest share loses 2 micro-dollars
        sql = real(*args, **kwargs)
        return sql.replace("CASE WHEN sh._last THEN ", "CASE WHEN sh._last THEN -0.000002 + ")

    monkeypatch.setattr(pools, "split_sql", leaky)
    with pytest.raises(RunError, match="does not conserve"):
        allocate(loaded, settings_from({"shared": [{"name": "s",
                                                    "match": {"service": "Support"}}]}))
    assert snapshot(loaded) == before


def test_failure_just_before_commit_rolls_back(loaded: Store, monkeypatch: pytest.MonkeyPatch
                                               ) -> None:
    before = snapshot(loaded)

    def boom() -> None:
        raise RuntimeError("interrupted")

    monkeypatch.setattr(engine, "before_commit", boom)
    with pytest.raises(RuntimeError):
        allocate(loaded, settings_from({"rules": [{"name": "r", "match": {"service": "Support"},
                                                   "set": {"team": "x"}}]}))
    assert snapshot(loaded) == before


def test_cli_exit_2_and_init(tmp_path: Path, loaded: Store) -> None:
    if loaded.is_spark:
        pytest.skip("the CLI opens a DuckDB store file")
    runner = CliRunner()
    cfg = tmp_path / "c.yaml"
    r = runner.invoke(app, ["init", "--config", str(cfg)])
    assert r.exit_code == 0 and cfg.exists()
    assert runner.invoke(app, ["init", "--config", str(cfg)]).exit_code == 2
    bad = write(tmp_path, "sharred: []\n")
    r = runner.invoke(app, ["allocate", "--config", str(bad), "--store", str(loaded.path)])
    assert r.exit_code == 2 and "did you mean 'shared'" in r.output
    r = runner.invoke(app, ["explain", "--config", str(bad), "--teem", "x"])
    assert r.exit_code == 2
