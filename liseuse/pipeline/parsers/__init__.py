"""The pieces behind `liseuse.pipeline.parse`: byte recovery, XML and JSON Feed readers, dates."""
