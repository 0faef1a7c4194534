"""An assistant that explains one investment thesis from a fund company's own articles.

Modules, one concern each: ``config`` (settings), ``errors``, ``documents`` (loading and structure),
``chunking``, ``embeddings``, ``store`` (Chroma + lexical index), ``inventory`` (what a sync
covers and left behind), ``ingest`` (sync), ``retrieval``, ``llm`` (the DeepSeek-compatible API),
``answer`` (the engine), ``citations``, ``compliance``, ``factory`` (builds the services), ``cli``,
and the ``eval`` package (retrieval and answer quality on QA sets).
"""

__version__ = "0.1.0"
