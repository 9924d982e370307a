"""Model providers behind small interfaces (providers/base.py)."""
