"""Channel adapters: one file per channel over the small contract in base.py."""
