"""Deterministic demo point-of-sale data, inserted in bulk (a million sales in minutes).

The same arguments give the same rows and the same totals every time: every random choice comes
from a `random.Random` seeded with the business name. Dates are relative to today so the
dashboard looks alive; amounts do not depend on the date.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, insert, select, text

from dashboard.extensions import db
from dashboard.models.pos import (
    ROLE_MANAGER,
    ROLE_OWNER,
    AuditLog,
    Business,
    CreditTransaction,
    Customer,
    Membership,
    Product,
    Sale,
    SaleLine,
    User,
)

DEMO_PASSWORD = "demo-password"
DEMO_BUSINESSES = (
    # name, timezone, currency, login slug
    ("Corner Café", "Europe/London", "GBP", "corner-cafe"),
    ("Harbor Hardware", "America/New_York", "USD", "harbor-hardware"),
)
# People's names, not "<business> Owner": the page header shows the business and the person side by
# side, and "Corner Café Corner Café Owner" read as a stutter (issue 20).
DEMO_PEOPLE = {
    "corner-cafe": ("Olivia Bennett", "Marco Silva"),
    "harbor-hardware": ("Grace Okafor", "Dan Whitfield"),
}
BATCH = 5000

FIRST_NAMES = [
    "Zoë",
    "José",
    "Chloé",
    "Siobhán",
    "François",
    "Björn",
    "Łukasz",
    "Renée",
    "Amélie",
    "Noah",
    "Olivia",
    "Liam",
    "Mia",
    "Émile",
    "Søren",
    "Ana",
    "Mateus",
    "Aisha",
    "Hiroshi",
    "Fatima",
    "Gráinne",
    "Jürgen",
    "Inès",
    "Kwame",
    "Priya",
    "Dmitri",
    "Nuño",
    "Ayşe",
    "Lucía",
    "Tomás",
]
LAST_NAMES = [
    "O'Brien",
    "Núñez",
    "Dubois",
    "O'Connell",
    "L'Écuyer",
    "Ångström",
    "Żółć",
    "D'Arcy",
    "Smith",
    "Müller",
    "García",
    "Nguyen",
    "Kowalski",
    "Rossi",
    "Jensen",
    "Silva",
    "Okafor",
    "Tanaka",
    "Ben-David",
    "MacDonald",
    "van der Berg",
    "Hernández",
    "Öztürk",
    "Şahin",
    "Brontë",
    "Fernández",
]
CATEGORIES = {
    "Beverages": ["Espresso beans 1kg", "Oat milk 1L", "Green tea", "Hot chocolate mix", "Sparkling water"],
    "Bakery": ["Croissant", "Pain au chocolat", "Sourdough loaf", "Crème brûlée tart", "Bagel"],
    "Hardware": ["Hammer 16oz", "Screwdriver set", "Wood screws (100)", "Tape measure 5m", 'Wrench 10"'],
    "Garden": ["Potting soil 20L", "Seed mix", "Garden gloves", "Watering can", "Pruning shears"],
    "Household": ["Light bulb LED", "Batteries AA (8)", "Extension cord", "Dish soap", "Bin bags"],
    "Gifts": ["Gift card", "Scented candle", 'Mug "Best Boss"', "Greeting card", "Tote bag"],
}
PAYMENT_WEIGHTS = (("card", 60), ("cash", 25), ("mobile", 12), ("credit", 3))
AUDIT_ACTIONS = [
    ("login", "user"),
    ("sale.refund", "sale"),
    ("sale.void", "sale"),
    ("price.change", "product"),
    ("stock.adjust", "product"),
    ("customer.update", "customer"),
    ("drawer.open", "register"),
]


@dataclass
class SeedSummary:
    business: str
    customers: int
    products: int
    sales: int
    sale_lines: int
    audit_entries: int
    seconds: float
    total_cents: int

    def describe(self) -> str:
        return (
            f"Seeded {self.business!r}: {self.customers} customers, {self.products} products, "
            f"{self.sales} sales ({self.sale_lines} lines, total {self.total_cents / 100:.2f}), "
            f"{self.audit_entries} audit entries in {self.seconds:.1f}s."
        )


def _next_id(model) -> int:
    return (db.session.scalar(select(func.max(model.id))) or 0) + 1


def _user(email: str, name: str, password: str | None) -> User:
    user = db.session.scalar(select(User).where(User.email == email))
    if user is None:
        user = User(email=email, name=name)
        if password:
            user.set_password(password)
        else:
            user.is_active_user = False  # a cashier in the POS, not a dashboard user
        db.session.add(user)
        db.session.flush()
    return user


def _member(user: User, business: Business, role: str) -> None:
    exists = db.session.scalar(
        select(Membership.id).where(Membership.user_id == user.id, Membership.business_id == business.id)
    )
    if exists is None:
        db.session.add(Membership(user=user, business=business, role=role))


def _bulk(table, rows: list[dict]) -> None:
    if rows:
        db.session.execute(insert(table), rows)
        rows.clear()


def seed_business(
    name: str,
    sales: int = 5000,
    timezone: str = "UTC",
    currency: str = "USD",
    slug: str | None = None,
    now: datetime | None = None,
    progress=None,
) -> SeedSummary:
    """Add demo customers, products, sales (with lines) and audit entries to one business."""
    started = time.perf_counter()
    rng = random.Random(f"demo:{name}:{sales}")
    now = (now or datetime.now(UTC)).replace(minute=0, second=0, microsecond=0)
    business = db.session.scalar(select(Business).where(Business.name == name))
    if business is None:
        business = Business(name=name, timezone=timezone, currency=currency)
        db.session.add(business)
        db.session.flush()
    slug = slug or "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-") or "shop"
    cashiers = [
        _user(f"cashier{i}@{slug}.example.com", f"{rng.choice(FIRST_NAMES)} (till {i})", None)
        for i in (1, 2, 3)
    ]
    n_customers = max(50, min(5000, sales // 50))
    customer_start = _next_id(Customer)
    customer_rows = []
    balances = []
    for i in range(n_customers):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        limit = rng.choice([0, 0, 0, 20000, 50000, 100000])
        balance = rng.randrange(0, limit + 1, 100) if limit else 0
        balances.append(balance)
        customer_rows.append(
            {
                "id": customer_start + i,
                "business_id": business.id,
                "name": f"{first} {last}",
                "email": f"{first.lower()}.{i}@example.com".encode("ascii", "ignore").decode()
                if rng.random() < 0.9
                else "",
                "phone": f"+1 555 {rng.randrange(1000000):07d}",
                "created_at": now - timedelta(days=rng.randrange(30, 1500)),
                "visits": 0,
                "total_spent_cents": 0,
                "credit_limit_cents": limit,
                "credit_balance_cents": balance,
            }
        )
    product_start = _next_id(Product)
    product_rows = []
    prices = []
    sku_n = 0
    for category, items in CATEGORIES.items():
        for item in items:
            for variant in ("", " (large)"):
                cost = rng.randrange(50, 5000)
                price = int(cost * rng.uniform(1.3, 2.5))
                prices.append(price)
                qty = 0 if rng.random() < 0.12 else rng.randrange(1, 400)
                product_rows.append(
                    {
                        "id": product_start + sku_n,
                        "business_id": business.id,
                        "sku": f"{category[:3].upper()}-{sku_n + 1:04d}",
                        "name": item + variant,
                        "category": category,
                        "quantity_on_hand": qty,
                        "unit_cost_cents": cost,
                        "retail_price_cents": price,
                    }
                )
                sku_n += 1
    n_products = len(product_rows)
    _bulk(Customer.__table__, customer_rows)
    _bulk(Product.__table__, product_rows)

    credit_rows = []
    for i, balance in enumerate(balances):
        if balance:
            for _ in range(rng.randrange(1, 5)):
                credit_rows.append(
                    {
                        "business_id": business.id,
                        "customer_id": customer_start + i,
                        "created_at": now - timedelta(days=rng.randrange(1, 390)),
                        "kind": rng.choice(["charge", "charge", "payment"]),
                        "amount_cents": rng.randrange(500, 20000),
                    }
                )
    _bulk(CreditTransaction.__table__, credit_rows)

    sale_start = _next_id(Sale)
    line_id = _next_id(SaleLine)
    receipt_start = (
        db.session.scalar(select(func.count(Sale.id)).where(Sale.business_id == business.id)) or 0
    ) + 1
    span_seconds = 396 * 24 * 3600  # 13 months
    methods = [m for m, _ in PAYMENT_WEIGHTS]
    weights = [w for _, w in PAYMENT_WEIGHTS]
    sale_rows: list[dict] = []
    line_rows: list[dict] = []
    visits = [0] * n_customers
    spent = [0] * n_customers
    grand_total = 0
    n_lines = 0
    for i in range(sales):
        # Spread evenly over 13 months, newest last, with a little jitter.
        offset = span_seconds - int(span_seconds * (i + rng.random()) / max(sales, 1))
        created = now - timedelta(seconds=offset)
        subtotal = 0
        items = 0
        sale_id = sale_start + i
        for _ in range(rng.choice((1, 1, 2, 2, 3, 4))):
            p = rng.randrange(n_products)
            qty = rng.choice((1, 1, 1, 2, 3))
            price = prices[p]
            line_rows.append(
                {
                    "id": line_id,
                    "sale_id": sale_id,
                    "product_id": product_start + p,
                    "quantity": qty,
                    "unit_price_cents": price,
                    "line_total_cents": price * qty,
                }
            )
            line_id += 1
            n_lines += 1
            subtotal += price * qty
            items += qty
        discount = subtotal // 10 if rng.random() < 0.1 else 0
        tax = (subtotal - discount) * 8 // 100
        total = subtotal - discount + tax
        roll = rng.random()
        status = "voided" if roll < 0.01 else "refunded" if roll < 0.04 else "completed"
        customer = rng.randrange(n_customers) if rng.random() < 0.6 else None
        if customer is not None and status == "completed":
            visits[customer] += 1
            spent[customer] += total
        grand_total += total
        sale_rows.append(
            {
                "id": sale_id,
                "business_id": business.id,
                "receipt_number": f"R{receipt_start + i:08d}",
                "created_at": created,
                "customer_id": customer_start + customer if customer is not None else None,
                "cashier_id": cashiers[i % 3].id,
                "payment_method": rng.choices(methods, weights)[0],
                "status": status,
                "item_count": items,
                "subtotal_cents": subtotal,
                "discount_cents": discount,
                "tax_cents": tax,
                "total_cents": total,
            }
        )
        if len(sale_rows) >= BATCH:
            _bulk(Sale.__table__, sale_rows)
            _bulk(SaleLine.__table__, line_rows)
            if progress:
                progress(i + 1)
    _bulk(Sale.__table__, sale_rows)
    _bulk(SaleLine.__table__, line_rows)
    for i in range(n_customers):
        if visits[i]:
            db.session.execute(
                Customer.__table__.update()
                .where(Customer.id == customer_start + i)
                .values(visits=visits[i], total_spent_cents=spent[i])
            )

    audit_rows = []
    n_audit = max(200, min(20000, sales // 20))
    staff = [u.id for u in cashiers]
    for i in range(n_audit):
        action, entity = rng.choice(AUDIT_ACTIONS)
        audit_rows.append(
            {
                "business_id": business.id,
                "created_at": now - timedelta(seconds=span_seconds - span_seconds * i // n_audit),
                "user_id": rng.choice(staff),
                "action": action,
                "entity": entity,
                "entity_id": str(rng.randrange(1, 100000)),
                "details": rng.choice(
                    [
                        "",
                        "Till 2",
                        "Price corrected after supplier invoice",
                        "Customer's request — refund",
                        "Stock count: shelf B",
                        "Über-fast checkout",
                    ]
                ),
                "ip_address": f"192.0.2.{rng.randrange(1, 255)}",
            }
        )
        if len(audit_rows) >= BATCH:
            _bulk(AuditLog.__table__, audit_rows)
    _bulk(AuditLog.__table__, audit_rows)
    _sync_sequences()
    db.session.commit()
    return SeedSummary(
        business=name,
        customers=n_customers,
        products=n_products,
        sales=sales,
        sale_lines=n_lines,
        audit_entries=n_audit,
        seconds=time.perf_counter() - started,
        total_cents=grand_total,
    )


def _sync_sequences() -> None:
    """Explicit ids leave PostgreSQL's sequences behind; move them past the rows we wrote."""
    if db.session.get_bind().dialect.name != "postgresql":
        return
    for model in (Customer, Product, Sale, SaleLine, CreditTransaction, AuditLog):
        table = model.__tablename__
        # Our own table names, never user input.
        sql = f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE((SELECT MAX(id) FROM {table}), 1))"  # noqa: S608
        db.session.execute(text(sql))


def seed_default(sales: int | None = None) -> list[SeedSummary]:
    """Two demo businesses in different timezones, each with an owner and a manager."""
    summaries = []
    for name, tz, currency, slug in DEMO_BUSINESSES:
        summary = seed_business(
            name, sales=sales if sales is not None else 5000, timezone=tz, currency=currency, slug=slug
        )
        business = db.session.scalar(select(Business).where(Business.name == name))
        owner_name, manager_name = DEMO_PEOPLE.get(slug, (f"{name} Owner", f"{name} Manager"))
        owner = _user(f"owner@{slug}.example.com", owner_name, DEMO_PASSWORD)
        manager = _user(f"manager@{slug}.example.com", manager_name, DEMO_PASSWORD)
        _member(owner, business, ROLE_OWNER)
        _member(manager, business, ROLE_MANAGER)
        db.session.commit()
        summaries.append(summary)
    return summaries


def demo_logins() -> list[str]:
    lines = []
    for name, _tz, _cur, slug in DEMO_BUSINESSES:
        lines.append(f"{name}: owner@{slug}.example.com (owner), manager@{slug}.example.com (manager)")
    return lines
