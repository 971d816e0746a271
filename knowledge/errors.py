"""Errors the knowledge layer raises; callers catch `KnowledgeError` and show its message as one line.

KnowledgeError
├── SourceError          a manifest entry or source file is unusable (names the file and line)
└── DatabaseError
    ├── DatabaseMissing  no knowledge database yet: run `python -m bot build`
    └── DatabaseCorrupt  the file exists but fails the integrity or schema check
"""


class KnowledgeError(Exception):
    """Base of every error a user may see from the knowledge layer."""


class SourceError(KnowledgeError):
    """A manifest entry or a source document cannot be built."""


class DatabaseError(KnowledgeError):
    """The knowledge database cannot be used."""


class DatabaseMissing(DatabaseError):
    """The database file does not exist."""


class DatabaseCorrupt(DatabaseError):
    """The database file fails the integrity or schema check."""
