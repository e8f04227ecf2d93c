"""Templates' url_for keeps the links that are the same on every request of an app root
(templating.kept_url_for): an app mounted under a prefix gets its own, values still build."""

from __future__ import annotations


def test_links_follow_the_app_root_and_values_are_built_each_time(app):
    template = (
        "{{ url_for('static', filename='css/app.css') }}|{{ url_for('history.index') }}|"
        "{{ url_for('history.index', status=status) }}"
    )
    with app.test_request_context("/"):
        plain = app.jinja_env.from_string(template).render(status="FAILED")
        other = app.jinja_env.from_string(template).render(status="COMPLETED")
    with app.test_request_context("/", base_url="http://localhost/shop/"):
        mounted = app.jinja_env.from_string(template).render(status="FAILED")
    assert plain == "/static/css/app.css|/history/|/history/?status=FAILED"
    assert other.endswith("|/history/?status=COMPLETED")
    assert mounted == "/shop/static/css/app.css|/shop/history/|/shop/history/?status=FAILED"


def test_outside_a_request_links_are_absolute_as_before(app):
    app.config["SERVER_NAME"] = "exports.example.com"
    with app.app_context():
        link = app.jinja_env.from_string("{{ url_for('history.index', _external=True) }}").render()
        assert link == ("http://exports.example.com/history/")
