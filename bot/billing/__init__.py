"""Electricity billing: EVN retail tariffs and bill estimates (see bot.billing.tariffs)."""
