"""Domain logic of the matchmaking assistant: listings, matching, threads, settings."""
