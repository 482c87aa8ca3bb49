"""Union-find over identities: ids joined by a face swap must share one group, or a split leaks them."""

from __future__ import annotations


class UnionFind:
    """Connected ids share one representative: the smallest id, so group names are stable across runs."""

    def __init__(self) -> None:
        self._parent: dict[str, str] = {}

    def find(self, item: str) -> str:
        self._parent.setdefault(item, item)
        while self._parent[item] != item:
            self._parent[item] = self._parent[self._parent[item]]  # path halving keeps lookups short
            item = self._parent[item]
        return item

    def union(self, *items: str) -> str:
        roots = sorted({self.find(i) for i in items})
        for root in roots[1:]:
            self._parent[root] = roots[0]
        return roots[0]
