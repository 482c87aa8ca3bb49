"""Serving: the BentoML service (HTTP API + upload page), Bento packaging and `deepfake serve`.

Kept free of heavy imports: `serving.bento` and `serving.server` must load without torch or bentoml's server.
"""
