"""Operate: anomaly detection with root cause, forecasts, budgets, notifications, the daily job."""
