"""Output equivalence: the same prompts at temperature 0 against two server configurations, compared token by token."""
