"""Understanding Vietnamese free text: normalisation now; intents and entities later."""
