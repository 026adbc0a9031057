"""Plumbing shared by every app's REST API: one error format, cursor pagination, rate strings."""
