"""Stands in for mongo:8 in the compose test: SecantusDB (in the app image) with the administrator named by
``MONGO_INITDB_ROOT_USERNAME`` / ``MONGO_INITDB_ROOT_PASSWORD``, then required, as the official image does.

SecantusDB enforces SCRAM-SHA-256 with ``--auth`` once a user exists; users are created over the wire while it
listens on the container's own loopback only (nobody else can reach it before it requires the password).
"""

from __future__ import annotations

import os
import subprocess

from pymongo import MongoClient

SERVER = [
    "secantusd-py",
    "--port",
    "27017",
    "--storage-path",
    "/data/db",
    "--sync-on-commit",
    "--standalone",  # like mongo:8 (as a replica set it would advertise 0.0.0.0 to the drivers)
]


def provision(user: str, password: str) -> None:
    """Create the administrator unless the data directory has it already (a restart)."""
    server = subprocess.Popen([*SERVER, "--host", "127.0.0.1"])
    client: MongoClient[dict[str, object]] = MongoClient(
        "127.0.0.1", 27017, directConnection=True, serverSelectionTimeoutMS=60_000
    )
    try:
        if not client.admin.command("usersInfo", user)["users"]:
            client.admin.command("createUser", user, pwd=password, roles=[{"role": "root", "db": "admin"}])
    finally:
        client.close()
        server.terminate()
        server.wait(timeout=60)


def main() -> None:
    provision(os.environ["MONGO_INITDB_ROOT_USERNAME"], os.environ["MONGO_INITDB_ROOT_PASSWORD"])
    os.execvp(SERVER[0], [*SERVER, "--host", "0.0.0.0", "--auth"])  # the compose network


if __name__ == "__main__":
    main()
