"""Temporal deployment of the crysense classifier: real-time stream classification with stored results."""
