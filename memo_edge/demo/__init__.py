"""The shipped demo corpus and gold questions (package data)."""
