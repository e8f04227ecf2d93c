"""The schedules pages: list with filters and search, row actions, the form and its live parts."""

from __future__ import annotations

import json
import re
import uuid

from dashboard.core.errors import ValidationError
from dashboard.extensions import db
from dashboard.models import AuditLog, ExportHistory, ExportSchedule
from dashboard.services.validation import validate_schedule
from tests.web.web_helpers import HX, form_data


def _toast(response) -> dict:
    return json.loads(response.headers["HX-Trigger"])["toast"]


def _errors(body: str) -> dict[str, list[str]]:
    """Messages beside each field: {"hour": ["Enter an hour from 0 to 23."], ...}."""
    found: dict[str, list[str]] = {}
    pattern = r'<div class="field-errors" id="([^"]+?)-errors?"[^>]*>(.*?)</div>'
    for block_id, block in re.findall(pattern, body, re.S):
        messages = re.findall(r'<p class="field-error">(.*?)</p>', block, re.S)
        if messages:
            key = (
                "recipients"
                if block_id.startswith("recipient-")
                else block_id.replace("filters-", "filters.")
            )
            found.setdefault(key, []).extend(m.replace("&#39;", "'") for m in messages)
    return found


# --------------------------------------------------------------------------------------------
# The list


def test_empty_list_says_what_to_do(owner):
    body = owner.get("/schedules/").get_data(as_text=True)
    assert "No schedules yet — create your first." in body
    assert 'href="/schedules/new"' in body


def test_list_filters_and_search_update_in_place(owner, tenant, make_schedule):
    make_schedule(tenant.business, tenant.owner, name="Monday sales")
    make_schedule(
        tenant.business,
        tenant.owner,
        name="Stock 100%_check",
        export_type="INVENTORY",
        filters={},
        frequency="DAILY",
        day_of_week=None,
    )
    paused = make_schedule(
        tenant.business, tenant.owner, name="Paused customers", export_type="CUSTOMERS", filters={}
    )
    owner.post(f"/schedules/{paused.id}/deactivate")

    def names(query: str) -> list[str]:
        response = owner.get(f"/schedules/?{query}", headers=HX)
        assert response.status_code == 200
        assert "HX-Request" in response.headers["Vary"]
        return re.findall(r'data-schedule-name="([^"]+)"', response.get_data(as_text=True))

    assert names("") == ["Monday sales", "Paused customers", "Stock 100%_check"]
    assert names("search=monday") == ["Monday sales"]
    assert names("search=100%25_") == ["Stock 100%_check"]  # % and _ are plain characters
    assert names("is_active=false") == ["Paused customers"]
    assert names("is_active=true&export_type=SALES") == ["Monday sales"]
    assert names("frequency=DAILY") == ["Stock 100%_check"]
    nothing = owner.get("/schedules/?search=zzz", headers=HX).get_data(as_text=True)
    assert "No schedules match these filters." in nothing


def test_a_bad_filter_in_the_url_is_explained_and_ignored(owner, tenant, make_schedule):
    make_schedule(tenant.business, tenant.owner)
    response = owner.get("/schedules/?frequency=HOURLY&page=abc")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Choose a frequency: DAILY, WEEKLY or MONTHLY." in body
    assert "Weekly sales" in body


def test_list_pages(owner, tenant, make_schedule):
    for n in range(23):
        make_schedule(tenant.business, tenant.owner, name=f"Schedule {n:02d}")
    first = owner.get("/schedules/").get_data(as_text=True)
    assert first.count("data-schedule-name=") == 20
    assert "Page 1 of 2" in first
    second = owner.get("/schedules/?page=2", headers=HX).get_data(as_text=True)
    assert second.count("data-schedule-name=") == 3
    beyond = owner.get("/schedules/?page=9", headers=HX).get_data(as_text=True)
    assert beyond.count("data-schedule-name=") == 3  # past the end shows the last page


# --------------------------------------------------------------------------------------------
# Row actions


def test_deactivate_and_activate_in_place_with_a_toast(owner, tenant, make_schedule):
    schedule = make_schedule(tenant.business, tenant.owner)
    response = owner.post(f"/schedules/{schedule.id}/deactivate", headers=HX)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith(f'<tr id="schedule-{schedule.id}"')
    assert 'data-status="Inactive"' in body and ">Activate<" in body
    assert "is inactive" in _toast(response)["message"]
    db.session.refresh(schedule)
    assert not schedule.is_active and schedule.next_run_at is None

    response = owner.post(f"/schedules/{schedule.id}/activate", headers=HX)
    assert 'data-status="Active"' in response.get_data(as_text=True)
    assert "is active again" in _toast(response)["message"]
    db.session.refresh(schedule)
    assert schedule.is_active and schedule.next_run_at is not None
    actions = [a.action for a in db.session.query(AuditLog).filter(AuditLog.entity == "export_schedule")]
    assert "schedule.deactivate" in actions and "schedule.activate" in actions


def test_actions_without_javascript_redirect_back_with_a_message(owner, tenant, make_schedule):
    schedule = make_schedule(tenant.business, tenant.owner)
    response = owner.post(f"/schedules/{schedule.id}/deactivate")
    assert response.status_code == 303
    assert response.headers["Location"] == "/schedules/"
    assert "is inactive" in owner.get("/schedules/").get_data(as_text=True)


def test_delete_removes_the_row_and_keeps_the_history(owner, tenant, make_schedule, make_run):
    schedule = make_schedule(tenant.business, tenant.owner)
    run = make_run(tenant.business, schedule_id=schedule.id, schedule_name="")
    response = owner.post(f"/schedules/{schedule.id}/delete", headers=HX)
    assert response.status_code == 200
    assert response.get_data(as_text=True) == ""
    assert "was deleted" in _toast(response)["message"]
    db.session.expire_all()
    assert db.session.get(ExportSchedule, schedule.id) is None
    assert db.session.get(ExportHistory, run.id).schedule_name == "Weekly sales"
    # Deleting it again (another tab) is a clear 404, not a crash.
    assert owner.post(f"/schedules/{schedule.id}/delete", headers=HX).status_code == 404


def test_delete_asks_for_confirmation(owner, tenant, make_schedule):
    make_schedule(tenant.business, tenant.owner)
    body = owner.get("/schedules/").get_data(as_text=True)
    assert re.search(r'hx-confirm="Delete the schedule “Weekly sales”\?', body)


def test_run_now_shows_the_run_in_the_row(owner, tenant, make_schedule):
    schedule = make_schedule(tenant.business, tenant.owner, export_type="CUSTOMERS", filters={})
    response = owner.post(f"/schedules/{schedule.id}/run", headers=HX)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    run = db.session.query(ExportHistory).filter_by(schedule_id=schedule.id).one()
    assert run.trigger == "MANUAL" and run.user_id == tenant.owner.id
    assert f'id="run-status-{run.id}"' in body
    # EXPORT_SYNC runs it at once in tests, so the row already shows it finished: no more polling.
    assert run.status in ("COMPLETED", "EMAILED")
    assert "hx-trigger" not in body.split(f'id="run-status-{run.id}"')[1].split(">")[0]
    assert f"/history/{run.id}/download" in body
    assert "is running now" in _toast(response)["message"]


def test_send_a_test_to_me_runs_it_for_me_only(owner, tenant, make_schedule):
    schedule = make_schedule(tenant.business, tenant.owner, export_type="INVENTORY", filters={})
    response = owner.post(f"/schedules/{schedule.id}/test", headers=HX)
    assert response.status_code == 200
    run = db.session.query(ExportHistory).filter_by(schedule_id=schedule.id).one()
    assert run.override_recipients == [tenant.owner.email]
    assert run.send_email is True
    assert tenant.owner.email in _toast(response)["message"]
    # A test send is marked as one (its mail says "[Test]") and is not the schedule's last run.
    assert run.is_test is True
    db.session.refresh(schedule)
    assert schedule.last_run_at is None


# --------------------------------------------------------------------------------------------
# The form


def test_create_through_the_form(owner, tenant):
    response = owner.post("/schedules/new", data=form_data(name="Monday sales"), headers=HX)
    assert response.status_code == 200
    assert response.headers["HX-Redirect"] == "/schedules/"
    schedule = db.session.query(ExportSchedule).one()
    assert (schedule.name, schedule.frequency, schedule.day_of_week, schedule.hour) == (
        "Monday sales",
        "WEEKLY",
        0,
        8,
    )
    assert schedule.recipients == ["accounts@example.com"]
    assert schedule.filters == {"date_range": "previous_week"}
    assert schedule.created_by_id == tenant.owner.id
    assert "Schedule “Monday sales” saved." in owner.get("/schedules/").get_data(as_text=True)  # the toast


def test_create_without_javascript_redirects(owner):
    response = owner.post("/schedules/new", data=form_data())
    assert response.status_code == 303
    assert response.headers["Location"] == "/schedules/"


def test_double_submit_creates_one_schedule(owner):
    data = form_data(form_nonce=str(uuid.uuid4()))
    first = owner.post("/schedules/new", data=data, headers=HX)
    second = owner.post("/schedules/new", data=data, headers=HX)
    assert first.headers["HX-Redirect"] == second.headers["HX-Redirect"] == "/schedules/"
    assert db.session.query(ExportSchedule).count() == 1
    assert "was already saved" in owner.get("/schedules/").get_data(as_text=True)
    # A new form (a new nonce) is a new schedule.
    owner.post("/schedules/new", data=form_data(form_nonce=str(uuid.uuid4())), headers=HX)
    assert db.session.query(ExportSchedule).count() == 2


def test_each_form_carries_its_own_nonce(owner):
    nonces = [
        re.search(
            r'name="form_nonce" value="([^"]+)"', owner.get("/schedules/new").get_data(as_text=True)
        ).group(1)
        for _ in range(2)
    ]
    assert nonces[0] != nonces[1]


BAD_FORMS = [
    ({"name": ""}, "name"),
    ({"hour": "25"}, "hour"),
    ({"hour": "eight"}, "hour"),
    ({"minute": "75"}, "minute"),
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"filters.date_range": ""}, "filters.date_range"),
    (
        {
            "filters.date_range": "custom",
            "filters.start_date": "2024-03-10",
            "filters.end_date": "2024-03-01",
        },
        "filters.end_date",
    ),
    ({"recipients": ["accounts@example.com", "not-an-address"]}, "recipients"),
    ({"email_subject": "Line one\nLine two"}, "email_subject"),
]


def test_errors_appear_beside_their_fields_with_the_api_words(owner, tenant):
    for change, field in BAD_FORMS:
        data = form_data(**change)
        response = owner.post("/schedules/new", data=data, headers=HX)
        assert response.status_code == 422, change
        body = response.get_data(as_text=True)
        errors = _errors(body)
        assert field in errors, (change, errors)
        # The same words the API would answer for the same payload.
        from dashboard.web import forms

        payload = forms.schedule_payload(forms.schedule_form_from_request(_multidict(data), "UTC"))
        try:
            validate_schedule(payload, "UTC")
        except ValidationError as exc:
            assert errors[field] == exc.errors[field], change
        else:  # pragma: no cover
            raise AssertionError(f"the API accepted {change}")
        # Nothing is lost: what was typed is still there.
        assert 'value="Weekly sales"' in body or change.get("name") == ""
        assert 'aria-invalid="true"' in body
        assert "Please fix the" in body
    assert db.session.query(ExportSchedule).count() == 0


def _multidict(data: dict):
    from werkzeug.datastructures import MultiDict

    items = []
    for key, value in data.items():
        for item in value if isinstance(value, list) else [value]:
            items.append((key, item))
    return MultiDict(items)


def test_edit_form_shows_the_schedule_and_saves_changes(owner, tenant, make_schedule):
    schedule = make_schedule(
        tenant.business, tenant.owner, frequency="MONTHLY", day_of_week=1, week_of_month=2, hour=6, minute=15
    )
    body = owner.get(f"/schedules/{schedule.id}/edit").get_data(as_text=True)
    assert 'id="monthly_mode_weekday" name="monthly_mode" value="weekday" checked' in body
    assert re.search(r'<option value="2" selected>2nd</option>', body)
    assert re.search(r'<option value="1" selected>Tuesday</option>', body)
    assert 'value="06"' in body and 'value="15"' in body
    # The preview says it in a sentence (issue 20 item 1) instead of the calculator's short words.
    assert "On the 2nd Tuesday of each month at 06:15 UTC you&#39;ll get" in body

    data = form_data(
        frequency="MONTHLY", monthly_mode="day", day_of_month="-1", day_of_week=None, name="Month end"
    )
    response = owner.post(f"/schedules/{schedule.id}/edit", data=data, headers=HX)
    assert response.headers["HX-Redirect"] == "/schedules/"
    db.session.refresh(schedule)
    assert (schedule.name, schedule.day_of_month, schedule.week_of_month, schedule.day_of_week) == (
        "Month end",
        -1,
        None,
        None,
    )


def test_a_form_for_a_deleted_schedule_answers_clearly(owner, tenant, make_schedule):
    schedule = make_schedule(tenant.business, tenant.owner)
    owner.post(f"/schedules/{schedule.id}/delete", headers=HX)  # "in another tab"
    response = owner.post(f"/schedules/{schedule.id}/edit", data=form_data(name="Edited"), headers=HX)
    assert response.status_code == 404
    assert response.headers["HX-Retarget"] == "#form-alert"
    body = response.get_data(as_text=True)
    assert "This schedule no longer exists." in body
    assert "your changes were not saved" in body
    assert 'hx-post="/schedules/new"' in body  # "Save it as a new schedule"
    assert db.session.query(ExportSchedule).count() == 0
    # Without JavaScript: the whole form again, with the same message.
    page = owner.post(f"/schedules/{schedule.id}/edit", data=form_data(name="Edited"))
    assert page.status_code == 404
    assert "This schedule no longer exists." in page.get_data(as_text=True)
    assert 'value="Edited"' in page.get_data(as_text=True)


# --------------------------------------------------------------------------------------------
# The form's live parts


def test_day_fields_follow_the_frequency(owner):
    def fields(query: str) -> set[str]:
        response = owner.get(f"/schedules/form/timing?{query}", headers=HX)
        assert response.status_code == 200
        assert "HX-Request" in response.headers["Vary"]
        return set(re.findall(r'<select id="([a-z_]+)"', response.get_data(as_text=True)))

    assert fields("frequency=DAILY") == set()
    assert fields("frequency=WEEKLY") == {"day_of_week"}
    assert fields("frequency=MONTHLY") == {"day_of_month"}
    assert fields("frequency=MONTHLY&monthly_mode=weekday") == {"week_of_month", "day_of_week"}
    # What was chosen is kept across a switch.
    body = owner.get(
        "/schedules/form/timing?frequency=MONTHLY&monthly_mode=weekday&day_of_week=4", headers=HX
    )
    assert '<option value="4" selected>Friday</option>' in body.get_data(as_text=True)


def test_filters_follow_the_export_type(owner):
    def body(query: str) -> str:
        response = owner.get(f"/schedules/form/filters?{query}", headers=HX)
        assert response.status_code == 200
        return response.get_data(as_text=True)

    sales = body("export_type=SALES")
    assert 'name="filters.date_range"' in sales and "Previous month" in sales and "Year to date" in sales
    assert 'name="filters.start_date"' not in sales
    custom = body("export_type=SALES&filters.date_range=custom")
    assert 'name="filters.start_date"' in custom and 'name="filters.end_date"' in custom
    assert 'name="filters.include_credit_history"' in body("export_type=CUSTOMERS")
    assert 'name="filters.exclude_zero_value"' in body("export_type=INVENTORY")
    assert 'name="filters.date_range"' in body("export_type=AUDIT_LOGS")
    assert "worked out when you press Run" in body("export_type=SALES&form_kind=export")


def test_preview_shows_the_next_five_runs_in_the_schedule_timezone(owner):
    data = form_data(frequency="WEEKLY", day_of_week="2", hour="7", minute="30", timezone="America/New_York")
    response = owner.post("/schedules/preview", data=data, headers=HX)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "Every Wednesday at 07:30 (America/New_York)" in body
    runs = re.findall(r'<time datetime="([^"]+)" title="([^"]+)">([^<]+)</time>', body)
    assert len(runs) == 5
    for iso, utc_title, local in runs:
        assert local.startswith("Wed ") and ", 07:30 E" in local  # EST or EDT
        assert utc_title.endswith(" UTC") and iso.endswith("Z")


def test_preview_fills_a_day_field_not_rendered_yet(owner):
    # The frequency just changed to MONTHLY: the day fields are still being re-rendered.
    data = form_data(frequency="MONTHLY", day_of_week=None)
    body = owner.post("/schedules/preview", data=data, headers=HX).get_data(as_text=True)
    assert "Monthly on day 1 at 08:00 (UTC)" in body


def test_preview_explains_what_stops_it(owner):
    body = owner.post("/schedules/preview", data=form_data(hour="24"), headers=HX).get_data(as_text=True)
    assert "Enter an hour from 0 to 23." in body
    body = owner.post("/schedules/preview", data=form_data(timezone="Nowhere/Land"), headers=HX).get_data(
        as_text=True
    )
    assert "'Nowhere/Land' is not a timezone name such as Europe/London." in body.replace("&#39;", "'")


def test_each_recipient_is_checked_as_typed(owner):
    bad = owner.get("/schedules/validate/recipient?recipients=sam@", headers=HX)
    assert bad.status_code == 200
    assert (
        bad.get_data(as_text=True).strip()
        == '<p class="field-error">&#39;sam@&#39; is not a valid e-mail address.</p>'
    )
    good = owner.get("/schedules/validate/recipient?recipients=sam@example.com", headers=HX)
    assert good.get_data(as_text=True).strip() == ""
    empty = owner.get("/schedules/validate/recipient?recipients=", headers=HX)
    assert empty.get_data(as_text=True).strip() == ""
    settings_field = owner.get("/schedules/validate/recipient?default_recipients=x@y", headers=HX)
    assert "is not a valid e-mail address." in settings_field.get_data(as_text=True)


def test_add_a_recipient_row(owner):
    row = owner.get("/schedules/form/recipient", headers=HX).get_data(as_text=True)
    assert 'name="recipients"' in row and "<label" in row
    other = owner.get("/schedules/form/recipient?list=default_recipients", headers=HX).get_data(as_text=True)
    assert 'name="default_recipients"' in other


def test_every_input_of_the_form_has_a_label(owner):
    body = owner.get("/schedules/new").get_data(as_text=True)
    ids = re.findall(r'<(?:input|select|textarea)(?![^>]*type="hidden")[^>]*\sid="([^"]+)"', body)
    assert len(ids) >= 12
    for element_id in ids:
        assert f'for="{element_id}"' in body, element_id


def test_also_as_makes_a_schedule_of_several_formats_and_editing_keeps_them(owner, tenant):
    """The "Also as" checkboxes: the chosen format first, then the others (issue 18 item 1)."""
    data = form_data(name="Sales, twice", format="excel")
    data["also_formats"] = ["csv", "excel"]  # the chosen one again is no second file
    response = owner.post("/schedules/new", data=data, headers=HX)
    assert response.status_code == 200 and response.headers["HX-Redirect"] == "/schedules/"
    schedule = db.session.query(ExportSchedule).one()
    assert (schedule.format, schedule.formats) == ("excel", ["excel", "csv"])
    body = owner.get(f"/schedules/{schedule.id}/edit").get_data(as_text=True)
    assert 'id="also_formats-csv" name="also_formats" value="csv" checked' in body
    assert 'id="also_formats-pdf" name="also_formats" value="pdf" >' in body
    # Saving the form as shown (a new name) keeps both formats; unticking leaves one.
    edit = form_data(name="Sales, renamed", format="excel")
    edit["also_formats"] = ["csv"]
    owner.post(f"/schedules/{schedule.id}/edit", data=edit, headers=HX)
    db.session.refresh(schedule)
    assert (schedule.name, schedule.formats) == ("Sales, renamed", ["excel", "csv"])
    owner.post(f"/schedules/{schedule.id}/edit", data=form_data(name="Sales, once", format="pdf"), headers=HX)
    db.session.refresh(schedule)
    assert (schedule.format, schedule.formats) == ("pdf", None)
