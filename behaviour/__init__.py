"""Behaviour logs (events), their stores, and what is learned from them (CF, credit)."""
