"""The Fever API at /api/fever.php, for apps that speak it."""
