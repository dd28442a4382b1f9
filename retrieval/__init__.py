"""mmsec core app: cases, evidence media, processing, embeddings, search, audit.

Kept import-light on purpose: ``retrieval.plugin_api`` must be importable without Django.
"""
