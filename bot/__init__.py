"""CSKH Bot: the EVNCPC customer-care app delivered as a chat bot."""

__version__ = "0.1.0"
