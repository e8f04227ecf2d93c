"""INVENTORY: one row per product with its stock and retail value."""

from __future__ import annotations

from sqlalchemy import Select, select

from dashboard.exports.columns import Column
from dashboard.exports.datasets import Dataset
from dashboard.models.pos import Business, Product

COLUMNS = [
    Column("SKU", "text", 12),
    Column("Product", "text", 28),
    Column("Category", "text", 16),
    Column("Quantity on hand", "int", 11, total=True),
    Column("Unit cost", "money", 11),
    Column("Retail price", "money", 12),
    Column("Stock value", "money", 13, total=True),
    Column("Retail value", "money", 13, total=True),
]


class InventoryDataset(Dataset):
    export_type = "INVENTORY"
    title = "Inventory"
    file_stem = "inventory"
    count_noun = "products"

    def columns(self, filters: dict) -> list[Column]:
        return list(COLUMNS)

    def select(self, business: Business, filters: dict) -> Select:
        products = Product.__table__
        stock_value = products.c.quantity_on_hand * products.c.unit_cost_cents
        query = (
            select(
                products.c.sku,
                products.c.name,
                products.c.category,
                products.c.quantity_on_hand,
                products.c.unit_cost_cents,
                products.c.retail_price_cents,
                stock_value,
                products.c.quantity_on_hand * products.c.retail_price_cents,
            )
            .where(products.c.business_id == business.id)
            .order_by(products.c.category, products.c.name, products.c.sku)
        )
        if filters.get("exclude_zero_value"):
            query = query.where(stock_value != 0)
        return query
