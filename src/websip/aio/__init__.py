"""The asyncio shell: a thin pump around the sans-I/O core."""
