"""The form engine and its typed fields (phone, ID number, dates...)."""
