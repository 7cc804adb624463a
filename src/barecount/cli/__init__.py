"""The barecount command line (a leaf: nothing imports it)."""
