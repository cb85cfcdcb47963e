"""Retrieval library: Chinese/English tokenisation, BM25, FAISS dense search and hybrid fusion.

Modules: ``text`` (language detection, tokens), ``lexical`` (BM25), ``dense`` (encoders,
FAISS), ``hybrid`` (fusion), ``config`` (settings), ``explain`` (match explanations),
``store`` (versioned on-disk indexes), ``build`` (index building), ``evaluate`` (BEIR CLI).
Importing the package loads no model and reads no file.
"""
