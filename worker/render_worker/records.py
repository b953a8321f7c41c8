"""A rendered variant as part records and the manifest list it (no rendering imports: Lambdas use it)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class VariantRecord:
    index: int
    product_id: str
    sku: str
    key: str
    bytes: int
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
