"""Secrets kept out of what is shown: a database URL with its password masked."""

from __future__ import annotations


def without_password(url: str) -> str:
    """``url`` with the password of its user part, and any ``password=`` query parameter, replaced by ``***``.

    Works on any text, well formed or not, so an error about a bad URL can show it: the user part is what comes
    before the last ``@`` of the address (a password with an ``@`` left unescaped is still masked whole).
    """
    scheme, found, rest = url.partition("://")
    if not found:
        scheme, rest = "", url
    address, slash, tail = _split_address(rest)
    user_part, at, host_part = address.rpartition("@")
    if at:
        user, colon, _ = user_part.partition(":")
        address = f"{user}:***@{host_part}" if colon else address
    head = f"{scheme}://" if found else ""
    return head + address + slash + _mask_query_password(tail)


def _split_address(rest: str) -> tuple[str, str, str]:
    """``rest`` (what follows ``scheme://``) as the address, the character that ends it, and what follows."""
    ends = [i for i in (rest.find(c, rest.rfind("@") + 1) for c in "/?#") if i >= 0]
    if not ends:
        return rest, "", ""
    end = min(ends)
    return rest[:end], rest[end], rest[end + 1 :]


def _mask_query_password(tail: str) -> str:
    path, question, query = tail.partition("?")
    if not question:
        return tail
    pairs = [
        f"{name}=***" if name.lower() == "password" and sep else f"{name}{sep}{value}"
        for name, sep, value in (pair.partition("=") for pair in query.split("&"))
    ]
    return f"{path}?{'&'.join(pairs)}"
