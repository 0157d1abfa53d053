"""AWS CUR 2.0 (Data Exports, table COST_AND_USAGE_REPORT) -> FOCUS.

CUR 2.0 uses the Athena-style snake_case names of the legacy CUR plus map columns:
``product`` (product attributes without a column of their own), ``resource_tags`` (keys
``user_<key>`` / ``aws_<key>``; user tags become unprefixed FOCUS tag keys, AWS tags keep
an ``aws:`` prefix), ``cost_category``, and ``bill_payer_account_name`` /
``line_item_usage_account_name``. Parquet exports store maps as MAP(VARCHAR, VARCHAR); CSV
exports write them as JSON objects. The mapping is the legacy CUR's (``aws_mapping``).

Example::

    cloudledger ingest --source aws-cur2 data/BILLING_PERIOD=2024-05/*.parquet
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cloudledger.ingest.registry import Options, Sniff, register
from cloudledger.ingest.sources.aws_cur import is_cur2, read_files
from cloudledger.store import Frame


def detect(sniff: Sniff) -> bool:
    return sniff.document is None and is_cur2(list(sniff.columns))


@register("aws-cur2", "AWS CUR 2.0 (Data Exports) Parquet or CSV, with map columns "
          "resource_tags / cost_category / product", detect=detect, priority=21)
def read(store: Any, paths: list[Path], options: Options) -> Frame:
    return read_files(store, paths, options, "aws-cur2")
