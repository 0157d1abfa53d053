"""Optimize: commitment coverage and purchase plans, rightsizing, waste, the savings ledger."""
