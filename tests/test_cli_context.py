"""One CLI context: every command finds its store the same way (--store, then
$CLOUDLEDGER_STORE, then `store:` in the config, then ./cloudledger.duckdb); a read command
on a store that does not exist exits 2 and creates nothing; engine errors are a message and
exit 2, not a traceback; hints name the real options."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cloudledger.cli import app

runner = CliRunner()
SAMPLE = "focus/focus_sample_1.0.csv"

#: Commands that read the store (each must refuse a missing one), and allocate, which
#: writes to an existing store only.
READERS = [
    ["reconcile"],
    ["summary"],
    ["summary", "--by", "service"],
    ["sql", "SELECT 1"],
    ["tags"],
    ["explain", "--team", "payments"],
    ["showback"],
    ["chargeback"],
    ["metrics", "list"],
    ["unit-costs"],
    ["allocate"],
    ["commitments"],
    ["recommend", "commitments"],
    ["recommend", "waste"],
    ["recommend", "rightsizing"],
    ["savings"],
    ["anomalies"],
    ["forecast"],
    ["budgets"],
    ["run"],
]


@pytest.fixture()
def cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory and no $CLOUDLEDGER_STORE."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CLOUDLEDGER_STORE", raising=False)
    return tmp_path


def files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.mark.parametrize("command", READERS, ids=lambda c: " ".join(c))
@pytest.mark.parametrize("via", ["--store", "env", "config", "--config", "default"])
def test_a_missing_store_is_an_error_and_is_not_created(
        cwd: Path, monkeypatch: pytest.MonkeyPatch, command: list[str], via: str) -> None:
    missing = cwd / "typo" / "missing.duckdb"
    args = list(command)
    if via == "--store":
        args += ["--store", str(missing)]
    elif via == "env":
        monkeypatch.setenv("CLOUDLEDGER_STORE", str(missing))
    elif via == "config":
        (cwd / "cloudledger.yaml").write_text(f"store: {missing}\n")
    elif via == "--config":
        (cwd / "other.yaml").write_text(f"store: {missing}\n")
        args += ["--config", str(cwd / "other.yaml")]
    else:
        missing = cwd / "cloudledger.duckdb"
    before = files(cwd)
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "no store at" in result.output and str(missing.name) in result.output
    assert "Traceback" not in result.output
    assert files(cwd) == before                      # no store, no .wal, no folder


def test_validate_store_missing(cwd: Path) -> None:
    result = runner.invoke(app, ["validate", "--store", "typo.duckdb"])
    assert result.exit_code == 2 and "no store at" in result.output
    assert not (cwd / "typo.duckdb").exists()


# ------------------------------------------------------------------ precedence
def _rows(shared_data: Path, n: int, path: Path) -> Path:
    """The first ``n`` rows of the shared sample, as a FOCUS file."""
    with (shared_data / SAMPLE).open(newline="") as f:
        data = list(csv.reader(f))
    with path.open("w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(data[:n + 1])
    return path


@pytest.fixture()
def stores(cwd: Path, shared_data: Path) -> dict[str, Path]:
    """Four stores with 1, 2, 3 and 4 rows: flag, env, config and default."""
    out = {}
    for n, name in enumerate(("flag", "env", "config", "default"), start=1):
        path = cwd / ("cloudledger.duckdb" if name == "default" else f"{name}.duckdb")
        result = runner.invoke(app, ["ingest", str(_rows(shared_data, n, cwd / f"{name}.csv")),
                                     "--store", str(path)])
        assert result.exit_code == 0, result.output
        out[name] = path
    return out


def rows_in(args: list[str]) -> int:
    result = runner.invoke(app, [*args, "-f", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    if args[0] == "summary":
        return sum(r["rows"] for r in doc)
    if args[0] == "sql":
        return int(doc[0]["n"])
    return sum(r["rows"] for r in doc["coverage"])  # tags


COMMANDS = [["summary", "--by", "currency"], ["sql", "SELECT count(*) AS n FROM focus"],
            ["tags"]]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_precedence(stores: dict[str, Path], cwd: Path, monkeypatch: pytest.MonkeyPatch,
                    command: list[str]) -> None:
    assert rows_in(command) == 4                                    # ./cloudledger.duckdb
    (cwd / "cloudledger.yaml").write_text(f"store: {stores['config']}\n")
    assert rows_in(command) == 3                                    # store: in the config
    monkeypatch.setenv("CLOUDLEDGER_STORE", str(stores["env"]))
    assert rows_in(command) == 2                                    # $CLOUDLEDGER_STORE
    assert rows_in([*command, "--store", str(stores["flag"])]) == 1  # --store
    monkeypatch.delenv("CLOUDLEDGER_STORE")
    other = cwd / "other.yaml"
    other.write_text(f"store: {stores['flag']}\n")
    assert rows_in([*command, "--config", str(other)]) == 1         # --config FILE


def test_ingest_writes_where_the_config_says(cwd: Path, shared_data: Path) -> None:
    (cwd / "cloudledger.yaml").write_text("store: data/team.duckdb\n")
    result = runner.invoke(app, ["ingest", str(_rows(shared_data, 2, cwd / "two.csv"))])
    assert result.exit_code == 0, result.output
    assert (cwd / "data" / "team.duckdb").exists() and not (cwd / "cloudledger.duckdb").exists()
    assert rows_in(["summary", "--by", "currency"]) == 2


def test_a_bad_store_setting_names_the_line(cwd: Path) -> None:
    (cwd / "cloudledger.yaml").write_text("# settings\nstore: [a, b]\n")
    result = runner.invoke(app, ["summary"])
    assert result.exit_code == 2 and "cloudledger.yaml, line 2" in result.output
    result = runner.invoke(app, ["summary", "--config", "nope.yaml"])
    assert result.exit_code == 2 and "no config file at nope.yaml" in result.output


# ------------------------------------------------------------------ engine errors
def test_engine_errors_are_a_message_and_exit_2(cwd: Path, stores: dict[str, Path],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import duckdb

    from cloudledger.analyze import summary

    def boom(*args: object, **kwargs: object) -> None:
        raise duckdb.OutOfMemoryException("Out of Memory Error: failed to allocate 1.2 GiB")

    monkeypatch.setattr(summary, "by_dimension", boom)
    result = runner.invoke(app, ["summary", "--by", "service"])
    assert result.exit_code == 2, result.output
    assert "the DuckDB engine failed (OutOfMemoryException): Out of Memory Error" in \
        result.output
    assert "CLOUDLEDGER_MEMORY_LIMIT" in result.output and "Traceback" not in result.output
    assert not isinstance(result.exception, duckdb.Error)


def test_spark_errors_are_mapped() -> None:
    errors = pytest.importorskip("pyspark.errors")
    from cloudledger.cli.common import engine_error

    e = errors.AnalysisException(
        message="[TABLE_OR_VIEW_NOT_FOUND] The table or view `focus` cannot be found.")
    mapped = engine_error(e)
    assert mapped is not None and "the Spark engine failed (AnalysisException)" in \
        mapped.message and "focus" in mapped.message
    assert engine_error(ValueError("x")) is None


def test_other_errors_are_not_swallowed(cwd: Path, stores: dict[str, Path],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from cloudledger.analyze import summary

    def bug(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(summary, "by_dimension", bug)
    result = runner.invoke(app, ["summary", "--by", "service"])
    assert isinstance(result.exception, ZeroDivisionError)


# ------------------------------------------------------------------ hints
def test_an_unknown_source_names_the_source_option(cwd: Path, shared_data: Path) -> None:
    result = runner.invoke(app, ["ingest", str(shared_data / SAMPLE), "--source", "aws-cru"])
    assert result.exit_code == 2
    assert "--source" in result.output and "did you mean 'aws-cur'" in result.output
    assert "--format" not in result.output
    assert not (cwd / "cloudledger.duckdb").exists()


def test_messages_and_cells_are_text_not_markup(cwd: Path, shared_data: Path) -> None:
    odd = cwd / "[/bold]odd[red].duckdb"
    result = runner.invoke(app, ["reconcile", "--store", str(odd)])
    assert result.exit_code == 2 and "[/bold]odd[red].duckdb" in result.output
    data = _rows(shared_data, 1, cwd / "one.csv")
    result = runner.invoke(app, ["ingest", str(data), "--store", str(cwd / "s.duckdb")])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["sql", "SELECT '[/prod]' AS tag", "--store",
                                 str(cwd / "s.duckdb")])
    assert result.exit_code == 0 and "[/prod]" in result.output, result.output
