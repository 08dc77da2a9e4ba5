"""Redline: positions over time from what political actors say."""
