"""Settings of the read surface (``sql:``)."""

from __future__ import annotations

from pydantic import Field

from cloudledger.config.base import Strict


class Sql(Strict):
    """``cloudledger sql`` (and the read API): a statement running longer than
    ``time_limit`` seconds is stopped; at most ``row_limit`` rows are shown."""

    time_limit: float = Field(default=30.0, gt=0)
    row_limit: int = Field(default=1000, gt=0)
