"""Persistence: MongoDB through pymongo (repositories), Redis or in-process hot cache, embedded server."""
