"""`cloudledger sql`: the locked-down read surface, through the real CLI.

Every refused case exits 2 with a clear message and leaves the store byte-identical (and no
file behind); every accepted case exits 0 with the values an independent read of the source
CSV gives. The engine lock is also tested on its own (statements sent past the statement
check straight to a locked connection still fail).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from typer.testing import CliRunner

from cloudledger.cli import app
from cloudledger.store import Store

SAMPLE = "focus/focus_sample_1.0.csv"


@dataclass
class Loaded:
    path: Path
    csv: Path

    def digest(self) -> tuple[str, list[str]]:
        """The store's bytes and the names of every file beside it."""
        return (hashlib.sha256(self.path.read_bytes()).hexdigest(),
                sorted(p.name for p in self.path.parent.iterdir()))


@pytest.fixture(scope="module")
def loaded(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Loaded:
    from cloudledger.ingest import ingest

    path = tmp_path_factory.mktemp("sql") / "store.duckdb"
    st = Store(path)
    ingest(st, [shared_data / SAMPLE])
    st.close()
    return Loaded(path, shared_data / SAMPLE)


@pytest.fixture()
def unchanged(loaded: Loaded) -> Iterator[Loaded]:
    """The store, checked byte-identical (and alone in its directory) after the test."""
    before = loaded.digest()
    yield loaded
    assert loaded.digest() == before


def sql(store: Path, query: str, *args: str) -> Any:
    return CliRunner().invoke(app, ["sql", query, "--store", str(store), *args])


def source(query: str, csv: Path) -> list[tuple[Any, ...]]:
    """``query`` on the raw CSV (all text; the sample writes NULL as the text 'NULL')."""
    view = f"(SELECT * FROM read_csv('{csv}', all_varchar=true))"
    return duckdb.sql(query.replace("SRC", view)).fetchall()


# --------------------------------------------------------------------------- refused
REFUSED = [
    # local files: read, list, replacement scan (the engine refuses: external access off)
    ("SELECT * FROM read_csv('/etc/passwd')", "reaches outside the store"),
    ("SELECT content FROM read_text('/etc/passwd')", "reaches outside the store"),
    ("SELECT content FROM read_blob('/etc/passwd')", "reaches outside the store"),
    ("SELECT * FROM glob('/etc/*')", "reaches outside the store"),
    ("SELECT * FROM '/etc/passwd'", "Table with name /etc/passwd does not exist"),
    ("SELECT * FROM read_json_auto('/etc/hostname')", "reaches outside the store"),
    # the network (would auto-install httpfs without the lock)
    ("SELECT * FROM read_parquet('https://example.com/x.parquet')", "reaches outside the store"),
    # databases, extensions, settings
    ("ATTACH 'other.duckdb' AS other", "this statement is ATTACH"),
    ("DETACH store", "this statement is DETACH"),
    ("INSTALL httpfs", "this statement is INSTALL"),
    ("LOAD httpfs", "this statement is LOAD"),
    ("FORCE INSTALL httpfs", "this statement is FORCE"),
    ("SET enable_external_access = true", "this statement is SET"),
    ("SET memory_limit = '8GB'", "this statement is SET"),
    ("RESET memory_limit", "this statement is RESET"),
    ("PRAGMA enable_profiling", "this statement is PRAGMA"),
    ("PRAGMA threads = 1", "this statement is PRAGMA"),
    ("USE memory", "this statement is USE"),
    # writes, to the store or out of it
    ("COPY focus TO 'out.csv'", "this statement is COPY"),
    ("COPY (SELECT 1) TO 'out.parquet' (FORMAT parquet)", "this statement is COPY"),
    ("EXPORT DATABASE 'exported'", "this statement is EXPORT"),
    ("CREATE TABLE x AS SELECT 1 AS a", "this statement is CREATE"),
    ("CREATE TEMP TABLE x AS SELECT 1 AS a", "this statement is CREATE"),
    ("CREATE MACRO m(a) AS a", "this statement is CREATE"),
    ("INSERT INTO focus SELECT * FROM focus", "this statement is INSERT"),
    ("DELETE FROM focus", "this statement is DELETE"),
    ("UPDATE focus SET BilledCost = 0", "this statement is UPDATE"),
    ("DROP TABLE focus", "this statement is DROP"),
    ("ALTER TABLE focus ADD COLUMN x_y INT", "this statement is ALTER"),
    ("CHECKPOINT", "this statement is CHECKPOINT"),
    ("VACUUM", "this statement is VACUUM"),
    ("BEGIN TRANSACTION", "this statement is BEGIN"),
    ("CALL pragma_version()", "this statement is CALL"),
    ("EXPLAIN ANALYZE DELETE FROM focus", "this statement is EXPLAIN DELETE"),
    ("SELECT * FROM query('DROP TABLE focus')", "Expected a single SELECT statement"),
    # more than one statement, or none
    ("SELECT 1; SELECT 2", "the text holds 2"),
    ("SELECT 1; DROP TABLE focus", "the text holds 2"),
    ("  -- nothing\n", "the query is empty"),
    # plain mistakes are exit 2 with the engine's message
    ("SELEC 1", "syntax error"),
    ("SELECT * FROM focsu", 'Did you mean "focus"'),
]


@pytest.mark.parametrize(("query", "message"), REFUSED, ids=[q for q, _ in REFUSED])
def test_refused(unchanged: Loaded, query: str, message: str,
                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(unchanged.path.parent)  # a relative COPY/EXPORT target would land here
    res = sql(unchanged.path, query)
    assert res.exit_code == 2, res.output
    assert message in res.output
    assert "error: sql:" in res.output and "Traceback" not in res.output


def test_time_limit(unchanged: Loaded) -> None:
    res = sql(unchanged.path, "SELECT sum(a.x * b.x) FROM range(100000) a(x), "
              "range(100000) b(x)", "--time-limit", "1")
    assert res.exit_code == 2, res.output
    assert "the query ran longer than 1 s" in res.output
    assert "sql.time_limit" in res.output and "--time-limit" in res.output


def test_time_limit_from_settings(unchanged: Loaded, tmp_path: Path) -> None:
    config = tmp_path / "cloudledger.yaml"
    config.write_text("sql:\n  time_limit: 0.5\n")
    res = sql(unchanged.path, "SELECT count(*) FROM range(100000) a(x), range(100000) b(x) "
              "WHERE a.x + b.x = -1", "--config", str(config))
    assert res.exit_code == 2, res.output
    assert "the query ran longer than 0.5 s" in res.output


def test_time_limit_while_rows_stream(unchanged: Loaded,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The interrupt lands while batches are read (DuckDB reports it through Arrow)."""
    import time

    import pyarrow as pa

    from cloudledger.errors import InputError
    from cloudledger.store import query

    def slow_take(reader: pa.RecordBatchReader, row_limit: int | None) -> pa.Table:
        for _ in reader:
            time.sleep(0.05)
        raise AssertionError("the reader was not interrupted")

    monkeypatch.setattr(query, "_take", slow_take)
    st = Store(unchanged.path, read_only=True)
    try:
        with pytest.raises(InputError, match="ran longer than 0.5 s"):
            st.sql("SELECT x FROM range(1000000000000) t(x)", time_limit=0.5)
        monkeypatch.undo()
        assert st.sql("SELECT 1 AS x", time_limit=0.5).to_pylist() == [{"x": 1}]
    finally:
        st.close()


@pytest.mark.parametrize(("args", "message"), [
    (["--limit", "0"], "--limit must be at least 1"),
    (["--time-limit", "0"], "--time-limit must be above 0"),
])
def test_bad_limits(unchanged: Loaded, args: list[str], message: str) -> None:
    res = sql(unchanged.path, "SELECT 1", *args)
    assert res.exit_code == 2 and message in res.output


def test_bad_setting(unchanged: Loaded, tmp_path: Path) -> None:
    config = tmp_path / "cloudledger.yaml"
    config.write_text("sql:\n  time_limt: 5\n")
    res = sql(unchanged.path, "SELECT 1", "--config", str(config))
    assert res.exit_code == 2
    assert "unknown key 'time_limt'" in res.output and "did you mean 'time_limit'" in res.output


def test_only_the_sql_settings_matter(loaded: Loaded, tmp_path: Path) -> None:
    """A settings file whose allocation part is wrong still serves sql its own section."""
    config = tmp_path / "cloudledger.yaml"
    config.write_text("owners:\n  dimensions: []\nrules: 5\nsql:\n  row_limit: 2\n")
    res = sql(loaded.path, "SELECT * FROM range(5)", "-f", "json", "--config", str(config))
    assert rows(res) == [{"range": 0}, {"range": 1}]
    res = sql(loaded.path, "SELECT 1", "--config", str(tmp_path / "nope.yaml"))
    assert res.exit_code == 2 and "no config file at" in res.output


def test_missing_store_is_not_created(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    res = sql(Path("missing.duckdb"), "SELECT 1")
    assert res.exit_code == 2 and "no store at missing.duckdb" in res.output
    assert list(tmp_path.iterdir()) == []


ENGINE_REFUSED = [
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM glob('/etc/*')",
    "COPY focus TO 'out.csv'",
    "ATTACH 'other.duckdb' AS other",
    "INSTALL httpfs",
    "LOAD httpfs",
    "SET enable_external_access = true",
    "SET autoload_known_extensions = true",
    "SET lock_configuration = false",
    "PRAGMA threads = 1",
    "SELECT * FROM read_parquet('https://example.com/x.parquet')",
]


@pytest.mark.parametrize("statement", ENGINE_REFUSED)
def test_engine_lock_holds_without_the_statement_check(unchanged: Loaded, statement: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The settings are the lock: text sent straight to the locked connection still fails."""
    monkeypatch.chdir(unchanged.path.parent)
    st = Store(unchanged.path, read_only=True)
    try:
        assert st.sql("SELECT 42 AS x").to_pylist() == [{"x": 42}]
        with pytest.raises(duckdb.Error):
            st.con.con.execute(statement)
        settings = dict(st.con.con.execute(
            "SELECT name, value FROM duckdb_settings() WHERE name IN ('enable_external_access',"
            " 'autoinstall_known_extensions', 'autoload_known_extensions', "
            "'lock_configuration')").fetchall())
    finally:
        st.close()
    assert settings == {"enable_external_access": "false",
                        "autoinstall_known_extensions": "false",
                        "autoload_known_extensions": "false", "lock_configuration": "true"}


# --------------------------------------------------------------------------- accepted
def rows(res: Any) -> list[dict[str, Any]]:
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_describe_focus(loaded: Loaded) -> None:
    got = {r["column_name"]: r["column_type"]
           for r in rows(sql(loaded.path, "DESCRIBE focus", "-f", "json", "--limit", "500"))}
    assert got["BilledCost"] == "DECIMAL(38,12)"
    assert got["ChargePeriodStart"].startswith("TIMESTAMP")
    assert "x_IngestId" in got


def test_show_tables(loaded: Loaded) -> None:
    got = {r["name"] for r in rows(sql(loaded.path, "SHOW TABLES", "-f", "json"))}
    assert {"focus", "ingest_log", "ingest_errors", "source_totals"} <= got


def test_summarize_and_table_info(loaded: Loaded) -> None:
    summary = rows(sql(loaded.path, "SUMMARIZE focus", "-f", "json", "--limit", "500"))
    billed = next(r for r in summary if r["column_name"] == "BilledCost")
    assert billed["count"] == 1000
    info = rows(sql(loaded.path, "PRAGMA table_info('focus')", "-f", "json", "--limit", "500"))
    assert {"BilledCost", "EffectiveCost", "Tags"} <= {r["name"] for r in info}


def test_unaliased_date_trunc(loaded: Loaded) -> None:
    got = rows(sql(loaded.path, "SELECT date_trunc('month', ChargePeriodStart), count(*) "
                   "FROM focus GROUP BY 1 ORDER BY 1", "-f", "json"))
    assert len(got) == 1 and list(got[0]) == ["date_trunc('month', ChargePeriodStart)",
                                              "count_star()"]
    assert str(got[0]["date_trunc('month', ChargePeriodStart)"]).startswith("2024-09-01")
    assert got[0]["count_star()"] == 1000


def test_unaliased_json_extract(loaded: Loaded) -> None:
    got = rows(sql(loaded.path, "SELECT json_extract_string(Tags, '$.env'), count(*) FROM focus "
                   "GROUP BY 1 ORDER BY 2 DESC", "-f", "json"))
    want = source("SELECT json_extract_string(nullif(Tags, 'NULL'), '$.env'), count(*) "
                  "FROM SRC GROUP BY 1 ORDER BY 2 DESC", loaded.csv)
    assert [(r["json_extract_string(Tags, '$.env')"], r["count_star()"]) for r in got] == want
    assert ("prod", 42) in want
    arrow = rows(sql(loaded.path, "SELECT Tags->>'env', count(*) FROM focus GROUP BY 1 "
                     "ORDER BY 2 DESC", "-f", "json"))
    assert [tuple(r.values()) for r in arrow] == want


def test_unaliased_string_agg(loaded: Loaded) -> None:
    got = rows(sql(loaded.path, "SELECT string_agg(DISTINCT ServiceCategory, ' ' ORDER BY "
                   "ServiceCategory) FROM focus", "-f", "json"))
    want = source("SELECT string_agg(DISTINCT ServiceCategory, ' ' ORDER BY ServiceCategory) "
                  "FROM SRC", loaded.csv)[0][0]
    assert list(got[0].values()) == [want] and "Compute Databases" in want
    assert list(got[0]) == ["string_agg(DISTINCT ServiceCategory, ' ' ORDER BY ServiceCategory)"]


def test_unaliased_case_like_escape(loaded: Loaded) -> None:
    query = ("SELECT CASE WHEN ResourceName LIKE '%\\_%' ESCAPE '\\' THEN 'underscore' "
             "ELSE 'other' END, count(*) FROM focus GROUP BY 1 ORDER BY 1")
    got = rows(sql(loaded.path, query, "-f", "json"))
    want = source(query.replace("FROM focus", "FROM SRC"), loaded.csv)
    assert [tuple(r.values()) for r in got] == want
    assert ("underscore", 1) in want  # ESCAPE made `_` literal (unescaped it matches 993 rows)


def test_duplicate_names(loaded: Loaded) -> None:
    got = rows(sql(loaded.path, "SELECT count(*), count(*), 1 AS a, 2 AS a FROM focus",
                   "-f", "json"))
    assert got == [{"count_star()": 1000, "count_star()_2": 1000, "a": 1, "a_2": 2}]
    res = sql(loaded.path, "SELECT count(*), count(*) FROM focus", "-f", "csv")
    assert res.exit_code == 0 and res.stdout.splitlines() == ["count_star(),count_star()_2",
                                                              "1000,1000"]
    table = sql(loaded.path, "SELECT count(*), count(*) FROM focus")
    assert table.exit_code == 0 and "count_star()_2" in table.stdout


def test_readme_query_matches_the_source(loaded: Loaded) -> None:
    got = rows(sql(loaded.path, "SELECT ServiceName, sum(EffectiveCost) FROM focus "
                   "GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 5", "-f", "json"))
    want = source("SELECT ServiceName, sum(EffectiveCost::decimal(38, 12)) FROM SRC "
                  "GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 5", loaded.csv)
    assert [(r["ServiceName"], Decimal(str(r["sum(EffectiveCost)"]))) for r in got] == want


@pytest.mark.parametrize("query", [
    "FROM focus SELECT count(*) AS n",
    "WITH t AS (SELECT * FROM focus) SELECT count(*) AS n FROM t",
    "SELECT count(*) AS n FROM focus;",
    "/* a comment */ SELECT count(*) AS n FROM focus -- and another",
    "SELECT n FROM (VALUES (1000)) v(n)",
])
def test_other_read_forms(loaded: Loaded, query: str) -> None:
    assert rows(sql(loaded.path, query, "-f", "json")) == [{"n": 1000}]


def test_explain_and_pivot(loaded: Loaded) -> None:
    plan = rows(sql(loaded.path, "EXPLAIN SELECT count(*) FROM focus", "-f", "json"))
    assert plan[0]["explain_key"] == "physical_plan"
    pivot = rows(sql(loaded.path, "PIVOT (SELECT ServiceCategory, 1 AS n FROM focus) "
                     "ON ServiceCategory USING sum(n)", "-f", "json"))
    want = dict(source("SELECT ServiceCategory, count(*) FROM SRC GROUP BY 1", loaded.csv))
    assert {k: Decimal(str(v)) for k, v in pivot[0].items()} == want


def test_row_limit(loaded: Loaded, tmp_path: Path) -> None:
    res = sql(loaded.path, "SELECT x_IngestId FROM focus", "-f", "json", "--limit", "7")
    assert len(rows(res)) == 7
    assert "showing the first 7 rows" in res.stderr
    exact = sql(loaded.path, "SELECT x_IngestId FROM focus LIMIT 7", "-f", "csv", "--limit", "7")
    assert exact.exit_code == 0 and len(exact.stdout.splitlines()) == 8
    assert "showing" not in exact.stderr
    config = tmp_path / "cloudledger.yaml"
    config.write_text("sql:\n  row_limit: 3\n")
    capped = sql(loaded.path, "SELECT * FROM range(10)", "-f", "json", "--config", str(config))
    assert rows(capped) == [{"range": 0}, {"range": 1}, {"range": 2}]
    assert "showing the first 3 rows" in capped.stderr


def test_row_cap_stops_an_endless_result(loaded: Loaded) -> None:
    """Only limit+1 rows are fetched: a result of 10^12 rows returns at once."""
    res = sql(loaded.path, "SELECT * FROM range(1000000000000)", "-f", "csv", "--limit", "2",
              "--time-limit", "20")
    assert res.exit_code == 0, res.output
    assert res.stdout.splitlines() == ["range", "0", "1"]


def test_library_call_on_a_writable_store(loaded: Loaded, tmp_path: Path) -> None:
    """Store.sql on a store opened for writing: the same statement check and names (the
    engine lock is for read-only stores; the store's own loads need file access)."""
    import shutil

    path = tmp_path / "w.duckdb"
    shutil.copy(loaded.path, path)
    st = Store(path)
    try:
        assert st.sql("SELECT count(*), count(*) FROM focus").column_names == [
            "count_star()", "count_star()_2"]
        with pytest.raises(Exception, match="this statement is DROP"):
            st.sql("DROP TABLE focus")
        assert st.sql("SELECT * FROM range(5)", row_limit=2).num_rows == 2
        assert "focus" in st.tables()
    finally:
        st.close()


# --------------------------------------------------------------------------- Spark
@pytest.fixture()
def spark_store(spark_db: Any) -> Store:
    return Store(spark=spark_db)


@pytest.mark.spark
def test_spark_accepted(spark_store: Store) -> None:
    st = spark_store
    assert st.sql("SELECT count(*), count(*) FROM focus").to_pylist() == [
        {"count(1)": 0, "count(1)_2": 0}]
    described = {r["col_name"] for r in st.sql("DESCRIBE focus").to_pylist()}
    assert {"BilledCost", "ChargePeriodStart"} <= described
    assert "focus" in {r["tableName"] for r in st.sql("SHOW TABLES").to_pylist()}
    assert st.sql("SELECT id FROM range(10)", row_limit=3).num_rows == 3


@pytest.mark.spark
@pytest.mark.parametrize(("query", "message"), [
    ("SELECT * FROM csv.`/etc/passwd`", "reads a file"),
    ("SELECT * FROM text.`/etc/passwd`", "reads a file"),
    ("SELECT reflect('java.lang.System', 'getenv', 'HOME')", "reflect() is not allowed"),
    ("SET spark.sql.runSQLOnFiles=true", "this statement is SET"),
    ("INSERT INTO focus SELECT * FROM focus", "this statement is INSERT"),
    ("CREATE TEMPORARY VIEW v AS SELECT 1", "this statement is CREATE"),
    ("ADD JAR /tmp/x.jar", "this statement is ADD"),
    ("SELECT 1; SELECT 2", "the text holds 2"),
])
def test_spark_refused(spark_store: Store, query: str, message: str) -> None:
    from cloudledger.errors import InputError

    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        spark_store.sql(query)
    assert spark_store.spark.conf.get("spark.sql.runSQLOnFiles") == "true"


@pytest.mark.spark
def test_spark_time_limit(spark_store: Store) -> None:
    from cloudledger.errors import InputError

    with pytest.raises(InputError, match="ran longer than 1 s"):
        spark_store.sql("SELECT count(*) FROM range(200000) a CROSS JOIN range(200000) b "
                        "WHERE a.id + b.id = -1", time_limit=1)
    assert spark_store.sql("SELECT 1 AS x").to_pylist() == [{"x": 1}]
