"""Tables of access control, created by workspace schema migration 2.

Keys and users live inside the workspace they grant access to, so a workspace file carries
its own tenants' credentials and nothing of another workspace's.
"""

from __future__ import annotations

DDL: list[str] = [
    # API keys: only a SHA-256 of the key is stored; the key itself is shown once, at creation
    "CREATE TABLE IF NOT EXISTS api_keys (key_id VARCHAR PRIMARY KEY, kind VARCHAR NOT NULL, name VARCHAR, "
    "key_hash VARCHAR NOT NULL UNIQUE, prefix VARCHAR, created_at TIMESTAMP NOT NULL, created_by VARCHAR, "
    "revoked_at TIMESTAMP)",
    # dashboard users: password_hash is an argon2/bcrypt hash, role one of admin|analyst|agent
    "CREATE TABLE IF NOT EXISTS users (user_id VARCHAR PRIMARY KEY, email VARCHAR NOT NULL UNIQUE, name VARCHAR, "
    "role VARCHAR NOT NULL, password_hash VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL, disabled_at TIMESTAMP)",
    # server-side sessions: the cookie carries the token, the table its SHA-256
    "CREATE TABLE IF NOT EXISTS sessions (token_hash VARCHAR PRIMARY KEY, user_id VARCHAR NOT NULL, "
    "csrf_token VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL, expires_at TIMESTAMP NOT NULL)",
]
