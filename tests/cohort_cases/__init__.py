"""Builders of tiny hand-written linked tables for the cohort tests."""
