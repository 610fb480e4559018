"""Reflection synthesis: the five GENERATOR steps and their backends."""
