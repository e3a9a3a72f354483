"""`fashionlab serve`: a trained run over HTTP (FastAPI on uvicorn), with a page to drop photos on.

Needs the `serve` extra: pip install 'fashionlab[serve]'.
"""
