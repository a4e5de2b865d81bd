"""People: accounts, their reading settings and API passwords."""
