"""Conversation engine: one turn at a time (turn.py); hands-free sessions come later."""
