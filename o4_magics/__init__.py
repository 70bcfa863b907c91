"""o4-magics: ask OpenAI o4-mini (via OpenRouter) from Jupyter."""
