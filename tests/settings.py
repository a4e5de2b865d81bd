"""Settings for the test suite: liseuse's own, with a throw-away data folder and fast hashing."""

import os
import tempfile

os.environ.setdefault("LISEUSE_DATA_DIR", tempfile.mkdtemp(prefix="liseuse-test-"))

from liseuse.settings import *  # noqa: F403

# Argon2 is deliberately slow; the tests create many accounts. Argon2 itself is tested once.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
