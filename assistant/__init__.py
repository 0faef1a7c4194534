"""An assistant that explains one investment thesis from a fund company's own articles.

Modules, one concern each: ``config`` (settings), ``errors``, ``documents`` (loading and structure),
``chunking``, ``embeddings``, ``store`` (Chroma + lexical index), ``ingest`` (sync), ``retrieval``,
``llm`` (the DeepSeek-compatible API), ``answer`` (the engine), ``citations``, ``compliance``,
``factory`` (builds the services) and ``cli``.
"""

__version__ = "0.1.0"
