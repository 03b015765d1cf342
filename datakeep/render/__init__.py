"""Renderers: pure functions from result values to text (or JSON documents)."""
