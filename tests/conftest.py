from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from cloudledger.store import Store

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("CLOUDLEDGER_SHARED", ROOT.parent / "shared"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    data = SHARED / "data"
    if not data.is_dir():
        pytest.fail(f"shared data not found at {data}; set CLOUDLEDGER_SHARED")
    return data


@pytest.fixture()
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "store.duckdb")
    yield s
    s.close()


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A local-mode Spark session (Java 17), shared by the tests marked ``spark``."""
    pyspark_sql = pytest.importorskip("pyspark.sql")
    warehouse = tmp_path_factory.mktemp("spark-warehouse")
    session = (
        pyspark_sql.SparkSession.builder.master("local[2]").appName("cloudledger-tests")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.ansi.enabled", "false")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.warehouse.dir", str(warehouse))
        .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={warehouse}")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture()
def spark_db(spark):  # type: ignore[no-untyped-def]
    """The shared Spark session, switched to a fresh database for one test."""
    import uuid

    name = f"t_{uuid.uuid4().hex[:12]}"
    spark.sql(f"CREATE DATABASE {name}")
    spark.catalog.setCurrentDatabase(name)
    yield spark
    spark.catalog.setCurrentDatabase("default")
    spark.sql(f"DROP DATABASE {name} CASCADE")


@pytest.fixture(params=["duckdb", pytest.param("spark", marks=pytest.mark.spark)])
def engine_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A new store on DuckDB, then on Spark (local mode): the same assertions on both."""
    if request.param == "spark":
        spark = request.getfixturevalue("spark_db")
        yield Store(spark=spark)
        return
    s = Store(tmp_path / "store.duckdb")
    yield s
    s.close()
