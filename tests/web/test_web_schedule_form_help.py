"""The new-schedule form's help, server side: recipes and presets fill it, the preview says the
schedule in a sentence with the period warning and the touched fields' errors, the summary lists
problems in the form's order, a typed city is read as its timezone, presets are saved from it."""

from __future__ import annotations

import json
import re

from sqlalchemy import select

from dashboard.extensions import db
from dashboard.models import AuditLog, ExportSchedule, SchedulePreset
from dashboard.services.presets import create_preset
from tests.web.web_helpers import HX, form_data


def _live(body: str) -> dict:
    match = re.search(r"data-live='([^']*)'", body)
    assert match, body
    return json.loads(match.group(1).replace("&#39;", "'").replace("&amp;", "&").replace("&#34;", '"'))


def test_the_new_form_starts_with_the_common_case_and_offers_the_recipes(owner):
    body = owner.get("/schedules/new").get_data(as_text=True)
    assert 'name="name_auto" value="Yesterday&#39;s sales, every day at 07:00"' in body
    assert 'name="period_auto" value="1"' in body
    assert '<option value="DAILY" selected>' in body
    assert 'value="07"' in body and '<option value="yesterday" selected>' in body
    for recipe in ("yesterdays-sales", "last-weeks-sales", "inventory-month-end", "customers-store-credit"):
        assert f'/schedules/new?recipe={recipe}"' in body
    assert "Every day at 07:00 UTC you&#39;ll get yesterday&#39;s sales as Excel. Next:" in body


def test_a_recipe_fills_the_form(owner):
    body = owner.get("/schedules/new?recipe=inventory-month-end").get_data(as_text=True)
    assert 'value="Inventory at month end"' in body
    assert '<option value="INVENTORY" selected>' in body
    assert '<option value="MONTHLY" selected>' in body
    assert '<option value="-1" selected>Last day of the month</option>' in body
    assert 'name="filters.exclude_zero_value" value="y" checked' in body
    assert 'name="period_auto" value=""' in body  # a recipe's choices are not changed behind its back


def test_an_unknown_recipe_or_a_foreign_preset_gives_the_usual_form(owner, other_tenant):
    foreign = create_preset(
        other_tenant.business, other_tenant.owner, {"name": "Theirs", "export_type": "CUSTOMERS"}
    )
    for url in (
        "/schedules/new?recipe=nope",
        f"/schedules/new?preset={foreign.id}",
        "/schedules/new?preset=x",
    ):
        response = owner.get(url)
        assert response.status_code == 200
        assert "Theirs" not in response.get_data(as_text=True)
        assert '<option value="SALES" selected>' in response.get_data(as_text=True)


def test_a_preset_fills_what_to_export_and_the_period_follows(owner, tenant):
    preset = create_preset(
        tenant.business,
        tenant.owner,
        {"name": "Credit book", "export_type": "CUSTOMERS", "filters": {"include_credit_history": True}},
    )
    body = owner.get(f"/schedules/new?preset={preset.id}").get_data(as_text=True)
    assert '<option value="CUSTOMERS" selected>' in body
    assert 'name="filters.include_credit_history" value="y" checked' in body
    assert f'href="/schedules/new?preset={preset.id}"' in body  # offered at the top


def test_the_preview_says_the_sentence_and_warns_when_the_period_does_not_fit(owner):
    data = form_data(frequency="MONTHLY", day_of_month="1", **{"filters.date_range": "yesterday"})
    body = owner.post("/schedules/preview", data=data, headers=HX).get_data(as_text=True)
    assert "On day 1 of each month at 08:00 UTC you&#39;ll get yesterday&#39;s sales as CSV." in body
    assert "This runs every month but covers “Yesterday”" in body
    fitting = form_data(frequency="MONTHLY", day_of_month="1", **{"filters.date_range": "previous_month"})
    assert "data-period-warning" not in owner.post("/schedules/preview", data=fitting, headers=HX).get_data(
        as_text=True
    )


def test_the_live_check_reports_touched_fields_only_and_clears_fixed_ones(owner):
    data = form_data(name="", hour="24", touched="hour")
    live = _live(owner.post("/schedules/preview", data=data, headers=HX).get_data(as_text=True))
    assert live["errors"] == {"hour": ["Enter an hour from 0 to 23."]}  # the empty name was not touched
    data = form_data(name="", hour="7", touched="hour,name")
    live = _live(owner.post("/schedules/preview", data=data, headers=HX).get_data(as_text=True))
    assert live["errors"] == {"hour": [], "name": ["Enter a name for the schedule."]}
    # After a failed save every field is reported, fine ones with [] (their errors are cleared).
    live = _live(
        owner.post("/schedules/preview", data=form_data(submitted="1"), headers=HX).get_data(as_text=True)
    )
    assert set(live["errors"]) >= {"name", "hour", "timezone", "filters.date_range", "non_field_errors"}
    assert not any(live["errors"].values())


def test_a_name_nobody_typed_follows_the_choices(owner):
    data = form_data(
        name="Yesterday's sales, every day at 07:00", name_auto="Yesterday's sales, every day at 07:00"
    )
    live = _live(owner.post("/schedules/preview", data=data, headers=HX).get_data(as_text=True))
    assert live["suggested_name"] == "Last week's sales, every Monday at 08:00"
    live = _live(owner.post("/schedules/preview", data=form_data(), headers=HX).get_data(as_text=True))
    assert live["suggested_name"] == ""


def test_the_summary_lists_problems_in_the_form_s_order(owner):
    data = form_data(name="", hour="31", timezone="Nowhere/Land", **{"filters.date_range": ""})
    response = owner.post("/schedules/new", data=data, headers=HX)
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    summary = body[
        body.index('class="error-summary"') : body.index("</ul>", body.index('class="error-summary"'))
    ]
    fields = re.findall(r'data-field="([^"]+)"', summary)
    assert fields == ["name", "filters.date_range", "hour", "timezone"], fields
    assert 'name="submitted" value="1"' in body
    assert 'id="start-from"' not in body  # the problems come first; no second copy of the recipes


def test_a_city_typed_in_the_timezone_box_is_saved_as_its_zone(owner, tenant):
    response = owner.post("/schedules/new", data=form_data(name="London sales", timezone="london"))
    assert response.status_code == 303
    schedule = db.session.scalar(select(ExportSchedule).where(ExportSchedule.name == "London sales"))
    assert schedule.timezone == "Europe/London"


def test_typing_london_finds_europe_london(owner):
    body = owner.get("/schedules/form/timezones?timezone=Lond", headers=HX).get_data(as_text=True)
    assert 'data-timezone="Europe/London"' in body
    assert "London <span" in body
    body = owner.get("/schedules/form/timezones?timezone=qqqq", headers=HX).get_data(as_text=True)
    assert "No timezone matches “qqqq”" in body
    assert (
        owner.get("/schedules/form/timezones?timezone=Europe/London", headers=HX)
        .get_data(as_text=True)
        .strip()
        == ""
    )


def test_a_preset_is_saved_from_the_form(manager, tenant):
    data = form_data(preset_name="Monday takings", **{"filters.date_range": "previous_week"})
    response = manager.post("/schedules/presets", data=data, headers=HX)
    assert response.status_code == 200
    assert json.loads(response.headers["HX-Trigger"])["toast"]["message"].startswith(
        "Preset “Monday takings” saved"
    )
    preset = db.session.scalar(select(SchedulePreset))
    assert (preset.name, preset.export_type, preset.formats, preset.filters) == (
        "Monday takings",
        "SALES",
        ["csv"],
        {"date_range": "previous_week"},
    )
    assert db.session.scalar(select(AuditLog).where(AuditLog.action == "preset.create")) is not None
    again = manager.post("/schedules/presets", data=data, headers=HX).get_data(as_text=True)
    assert "A preset with this name already exists" in again
    empty = manager.post("/schedules/presets", data=form_data(), headers=HX).get_data(as_text=True)
    assert "Enter a name for the preset." in empty
