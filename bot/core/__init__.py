"""The engine, router, conversation context and the shared message vocabulary."""
