"""The contract's CLI: users create / token / revoke-tokens, and the deterministic demo seed."""

from __future__ import annotations

from sqlalchemy import func, select

from dashboard.extensions import db
from dashboard.models import AuditLog, Business, Customer, Membership, Product, Sale, SaleLine, User


def test_users_create_makes_business_user_and_membership(runner):
    result = runner.invoke(
        args=[
            "users",
            "create",
            "Ana@Example.com",
            "--password",
            "long-enough",
            "--business",
            "Ana's Bakery",
            "--role",
            "owner",
            "--timezone",
            "Europe/Paris",
        ]
    )
    assert result.exit_code == 0, result.output
    business = db.session.scalar(select(Business).where(Business.name == "Ana's Bakery"))
    assert business.timezone == "Europe/Paris"
    user = db.session.scalar(select(User))
    assert user.email == "Ana@example.com" and user.check_password("long-enough")
    assert user.memberships[0].role == "owner"


def test_users_create_adds_membership_to_existing_user(runner):
    runner.invoke(
        args=[
            "users",
            "create",
            "ana@example.com",
            "--password",
            "long-enough",
            "--business",
            "One",
            "--role",
            "owner",
        ]
    )
    result = runner.invoke(
        args=[
            "users",
            "create",
            "ana@example.com",
            "--password",
            "long-enough",
            "--business",
            "Two",
            "--role",
            "manager",
        ]
    )
    assert result.exit_code == 0
    assert db.session.scalar(select(func.count(Membership.id))) == 2
    assert db.session.scalar(select(func.count(User.id))) == 1


def test_users_create_rejects_bad_input(runner):
    bad_tz = runner.invoke(
        args=[
            "users",
            "create",
            "a@example.com",
            "--password",
            "long-enough",
            "--business",
            "X",
            "--role",
            "owner",
            "--timezone",
            "Mars/Olympus",
        ]
    )
    assert bad_tz.exit_code == 2 and "IANA" in bad_tz.output
    bad_email = runner.invoke(
        args=[
            "users",
            "create",
            "not-an-email",
            "--password",
            "long-enough",
            "--business",
            "X",
            "--role",
            "owner",
        ]
    )
    assert bad_email.exit_code == 2
    bad_role = runner.invoke(
        args=[
            "users",
            "create",
            "a@example.com",
            "--password",
            "long-enough",
            "--business",
            "X",
            "--role",
            "admin",
        ]
    )
    assert bad_role.exit_code == 2
    assert db.session.scalar(select(func.count(Business.id))) == 0


def test_users_token_prints_only_the_token(runner):
    runner.invoke(
        args=[
            "users",
            "create",
            "ana@example.com",
            "--password",
            "long-enough",
            "--business",
            "One",
            "--role",
            "owner",
        ]
    )
    result = runner.invoke(args=["users", "token", "ana@example.com"])
    assert result.exit_code == 0
    assert result.stdout.endswith("\n") and result.stdout.count("\n") == 1
    assert result.stdout.startswith("ea_") and len(result.stdout.strip()) > 30


def test_users_token_needs_business_when_ambiguous(runner):
    for name in ("One", "Two"):
        runner.invoke(
            args=[
                "users",
                "create",
                "ana@example.com",
                "--password",
                "long-enough",
                "--business",
                name,
                "--role",
                "owner",
            ]
        )
    assert runner.invoke(args=["users", "token", "ana@example.com"]).exit_code == 2
    result = runner.invoke(args=["users", "token", "ana@example.com", "--business", "Two"])
    assert result.exit_code == 0


def _snapshot():
    return (
        db.session.scalar(select(func.count(Customer.id))),
        db.session.scalar(select(func.count(Product.id))),
        db.session.scalar(select(func.count(Sale.id))),
        db.session.scalar(select(func.count(SaleLine.id))),
        db.session.scalar(select(func.count(AuditLog.id))),
        db.session.scalar(select(func.sum(Sale.total_cents))),
        db.session.scalar(select(func.sum(Product.quantity_on_hand))),
        tuple(db.session.scalars(select(Customer.name).order_by(Customer.id).limit(20))),
    )


def test_demo_seed_is_deterministic(app_factory):
    snapshots = []
    for _ in range(2):
        app = app_factory()
        with app.app_context():
            result = app.test_cli_runner().invoke(args=["demo", "seed", "--sales", "300"])
            assert result.exit_code == 0, result.output
            assert "owner@corner-cafe.example.com" in result.output
            snapshots.append(_snapshot())
    assert snapshots[0] == snapshots[1]
    assert snapshots[0][2] == 600


def test_demo_seed_is_realistic(runner):
    runner.invoke(args=["demo", "seed", "--business", "Solo Shop", "--sales", "2000"])
    names = list(db.session.scalars(select(Customer.name)))
    assert any("'" in n for n in names) and any(any(ord(c) > 127 for c in n) for n in names)
    statuses = set(db.session.scalars(select(Sale.status).distinct()))
    assert {"completed", "refunded", "voided"} <= statuses
    assert db.session.scalar(select(func.count(Product.id)).where(Product.quantity_on_hand == 0)) > 0
    assert len(set(db.session.scalars(select(Product.category).distinct()))) >= 4
    # Lines add up to each sale's subtotal.
    mismatched = db.session.execute(
        select(Sale.id)
        .join(SaleLine, SaleLine.sale_id == Sale.id)
        .group_by(Sale.id, Sale.subtotal_cents)
        .having(func.sum(SaleLine.line_total_cents) != Sale.subtotal_cents)
    ).all()
    assert mismatched == []


def test_demo_seed_if_empty_skips(runner, factory):
    factory.business()
    result = runner.invoke(args=["demo", "seed", "--if-empty"])
    assert "skipped" in result.output
