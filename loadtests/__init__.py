"""Locust personas, the Double-11 traffic shape, run orchestration and reports."""
