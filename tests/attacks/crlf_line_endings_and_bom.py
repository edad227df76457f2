"""A correct submission saved with Windows line endings and a UTF-8 byte-order mark."""
