"""Understanding Vietnamese free text: normalisation, intents (a numpy linear model
trained with scikit-learn) and entities (codes, phones, amounts, dates, places)."""
