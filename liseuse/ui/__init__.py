"""The web interface: server-rendered pages that work without JavaScript."""
