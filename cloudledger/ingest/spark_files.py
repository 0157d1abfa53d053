"""Files as Spark reads them: CSV through a name that says its compression (Spark
decompresses by file name, DuckDB by content), Parquet with nanosecond timestamps (which
Spark's reader refuses) read as microseconds, as DuckDB reads them."""

from __future__ import annotations

import atexit
import functools
import hashlib
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from cloudledger.engine import hadoop_paths, ident
from cloudledger.errors import FormatError
from cloudledger.ingest.textfile import engine_compression

#: File-name endings by which Spark's text readers decompress (Hadoop's
#: CompressionCodecFactory and Spark's HadoopCodecStreams), and the codec each names.
_SPARK_CODECS = {".gz": "gzip", ".gzip": "gzip", ".zst": "zstd", ".zstd": "zstd",
                 ".bz2": "bzip2", ".deflate": "deflate", ".lz4": "lz4", ".snappy": "snappy"}
#: The ending a Spark alias of a file gets for the compression of its content.
_SPARK_SUFFIX = {"gzip": ".gz", "zstd": ".zst", "none": ".csv"}


def spark_codec(path: Path) -> str:
    """The compression Spark's text readers apply to ``path``: from its name only."""
    return next((c for end, c in _SPARK_CODECS.items() if path.name.endswith(end)), "none")


def spark_path(spark: Any, path: Path) -> str:
    """The path through which Spark's CSV reader decompresses ``path`` as its first bytes
    say (as DuckDB reads it): the file itself when its name agrees, else a symbolic link
    whose name does, in a temporary folder of this process (local mode only: executors
    elsewhere cannot see it; there it is a FormatError asking for the right name)."""
    kind = engine_compression(path)
    if spark_codec(path) == kind:
        return str(path)
    if kind == "none":
        what = f"not compressed, but its name ends in {path.suffix}"
        rename = path.stem
    else:
        what = f"{kind}-compressed, but its name does not end in {_SPARK_SUFFIX[kind]}"
        rename = path.name + _SPARK_SUFFIX[kind]
    error = FormatError(f"the file is {what} (Spark decompresses by file name)",
                        where=str(path), hint=f"rename it to {rename!r} and ingest again; "
                                              "nothing was loaded")
    if not _spark_local(spark):
        raise error
    link = _spark_links() / hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16] / (
        path.name + _SPARK_SUFFIX[kind])
    try:
        link.parent.mkdir(exist_ok=True)
        if not link.is_symlink():
            link.symlink_to(path.resolve())
    except OSError as e:
        raise error from e
    return str(link)


def _spark_local(spark: Any) -> bool:
    try:
        return str(spark.conf.get("spark.master", "")).startswith("local")
    except Exception:  # a session that does not say (Spark Connect): assume a cluster
        return False


@functools.cache
def _spark_links() -> Path:
    """This process's folder of Spark aliases (``spark_path``), removed at exit."""
    folder = Path(tempfile.mkdtemp(prefix="cloudledger-spark-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def spark_csv(spark: Any, files: list[Path], columns: list[str], *, header: bool = True,
              delimiter: str = ",", quote: str = '"', escape: str = '"',
              null: str | None = None, mode: str | None = None) -> Any:
    """A DataFrame over delimited files sharing the header ``columns``, every column text;
    ``mode``: Spark's handling of malformed records (FAILFAST, DROPMALFORMED)."""
    from pyspark.sql.types import StringType, StructField, StructType

    schema = StructType([StructField(c, StringType()) for c in columns])
    reader = spark.read.schema(schema).option("header", header).option("sep", delimiter) \
        .option("quote", quote).option("escape", escape).option("multiLine", True)
    if null is not None:
        reader = reader.option("nullValue", null)
    if mode is not None:
        reader = reader.option("mode", mode)
    return reader.csv(hadoop_paths([spark_path(spark, f) for f in files]))


def parquet_nanos(path: Path) -> dict[str, bool]:
    """Top-level INT64 TIMESTAMP(NANOS) columns of a Parquet file (from its footer): name
    -> whether the value is an instant (isAdjustedToUTC)."""
    import pyarrow.parquet as pq

    schema = pq.read_metadata(path).schema
    out = {}
    for i in range(len(schema)):
        column = schema.column(i)
        kind = json.loads(column.logical_type.to_json())
        if kind.get("Type") == "Timestamp" and kind.get("timeUnit") == "nanoseconds" \
                and "." not in column.path:
            out[column.path] = bool(kind.get("isAdjustedToUTC"))
    return out


def spark_parquet(spark: Any, path: Path) -> Any:
    """One Parquet file as a Spark DataFrame. Spark's reader refuses nanosecond timestamps
    (pyarrow's and pandas' default unit; DuckDB reads them): those columns are read as
    their INT64 and truncated to microseconds as DuckDB does (an instant as a timestamp, a
    local time as a timestamp without time zone, in the UTC session Ibis sets)."""
    from pyspark.sql import functions as F

    nanos = parquet_nanos(path)
    if not nanos:
        return spark.read.parquet(*hadoop_paths([str(path)]))
    df = spark.read.schema(_spark_schema(path, nanos)).parquet(*hadoop_paths([str(path)]))

    def micros(name: str) -> Any:
        t = F.timestamp_micros(F.expr(f"{ident(name, 'spark')} div 1000"))
        return (t if nanos[name] else t.cast("timestamp_ntz")).alias(name)

    return df.select([micros(c) if c in nanos else df[c] for c in df.columns])


def _spark_schema(path: Path, nanos: dict[str, bool]) -> Any:
    """The Spark schema of a Parquet file whose ``nanos`` columns are read as INT64."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from pyspark.sql.pandas.types import from_arrow_type
    from pyspark.sql.types import LongType, StructField, StructType

    fields = []
    for f in pq.read_schema(path):
        t = f.type.value_type if pa.types.is_dictionary(f.type) else f.type
        try:
            spark_type = LongType() if f.name in nanos else from_arrow_type(t)
        except (TypeError, NotImplementedError) as e:
            raise FormatError(
                f"Spark cannot read nanosecond timestamps ({', '.join(nanos)}) beside column "
                f"{f.name!r} of type {t}", where=str(path),
                hint="write the file with microsecond timestamps (pyarrow: "
                     "coerce_timestamps='us'), or ingest it into a DuckDB store; nothing "
                     "was loaded") from e
        fields.append(StructField(f.name, spark_type))
    return StructType(fields)


def spark_parquets(spark: Any, files: list[Path]) -> Any:
    """Parquet files as one DataFrame (``spark_parquet`` each, columns matched by name)."""
    frames = [spark_parquet(spark, f) for f in files]
    out = frames[0]
    for df in frames[1:]:
        out = out.unionByName(df, allowMissingColumns=True)
    return out
