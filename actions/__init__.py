"""Rasa SDK custom actions, split by feature; each stays thin and calls matchmaker code."""
