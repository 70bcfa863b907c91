"""Where calls are kept: the usage ledger, its schema migrations, and the response cache."""
