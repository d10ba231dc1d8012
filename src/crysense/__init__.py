"""crysense: infant cry / scream / normal sound study and service."""

__version__ = "0.1.0"
