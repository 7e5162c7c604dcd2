"""The demo data set: personas, customers, bills, payment points and outages."""
