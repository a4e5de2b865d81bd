"""The Google Reader API, at FreshRSS's paths, for apps (NetNewsWire, Reeder, Read You, newsboat…)."""
