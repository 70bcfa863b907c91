"""Money: model prices, usage from the server or estimated, and the budget check."""
