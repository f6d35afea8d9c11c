"""The package's version: the version of include/deepscratch.h it follows
(DS_VERSION_STRING; a test and `make -C examples wheel` check they agree)."""

__version__ = "1.2.0"
