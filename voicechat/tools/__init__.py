"""Tools the assistant may call: built-ins, MCP servers' tools, and the runner every engine shares."""
