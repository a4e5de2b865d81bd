"""Small framework-light helpers shared by the Django apps (no Django imports at module level)."""
