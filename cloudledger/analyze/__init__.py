"""Analysis over the store: summary, showback and chargeback, unit economics, period coverage.
Functions take a store and return results (Arrow tables, dataclasses); `render/` draws them."""
