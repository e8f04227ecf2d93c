"""Page arithmetic shared by every list: sizes, offsets, the last page, and `Page`, what a page of
the dashboard's lists renders ("Page 2 of 7 · 130 in all", previous and next links).

Reading the rows is the services' job (services/pages.py by page number, services/keyset.py by
cursor); this module only counts, so it needs no database.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


def clamp_page_size(value: int | None, default: int = DEFAULT_PAGE_SIZE) -> int:
    """A page size from 1 to MAX_PAGE_SIZE (`default` when none was given)."""
    return max(1, min(int(value or default), MAX_PAGE_SIZE))


def page_count(total: int, page_size: int) -> int:
    """How many pages `total` items fill (0 for none)."""
    return math.ceil(total / page_size) if total > 0 else 0


def offset_of(page: int, page_size: int) -> int:
    """How many items come before page `page` (pages count from 1)."""
    return (max(1, page) - 1) * page_size


def is_past_the_end(page: int, page_size: int, total: int) -> bool:
    """Whether page `page` starts after the last item (page 1 of an empty list is not)."""
    return page > 1 and offset_of(page, page_size) >= total


@dataclass(frozen=True)
class Page:
    """One page of a list and where it stands: `page` of `pages`, `total` items in all."""

    items: list[Any]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return page_count(self.total, self.per_page)

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def prev_num(self) -> int | None:
        return self.page - 1 if self.has_prev else None

    @property
    def next_num(self) -> int | None:
        return self.page + 1 if self.has_next else None
