"""Tests of the documentation: its commands, links and examples."""
