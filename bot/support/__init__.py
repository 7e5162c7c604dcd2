"""Support by people (issue 14): handoffs of a conversation to staff, canned replies,
internal notes and the customer's rating. The handlers and the console both call it."""
