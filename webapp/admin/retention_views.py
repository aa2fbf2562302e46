"""Retention in the admin console: the policies, the runs, and the records due for review.

The service (`webapp.audit.retention`) validates and audits; these pages only
collect input. Destroying a clinical record is its own page with a reason and a
confirmation, reached from the review list.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, request, url_for
from flask_admin import expose
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import BooleanField, StringField, TextAreaField
from wtforms.validators import Length

from webapp.admin.forms import ConfirmForm
from webapp.admin.views import ConsoleView
from webapp.audit import retention
from webapp.audit.service import record
from webapp.clients.models import Client
from webapp.core.timeutil import today_in, utcnow


def policies_form(current: list[retention.Policy]) -> FlaskForm:
    """One years field per kind of record, and the reason an audit override needs."""

    class RetentionPoliciesForm(FlaskForm):
        pass

    for policy in current:
        setattr(RetentionPoliciesForm, policy.kind, StringField(
            f"{policy.label}: years kept", [Length(max=10)], default=str(policy.years),
            description=f"Default {policy.default_years}. {policy.effect}"))
    audit = next(p for p in current if p.kind == retention.AUDIT)
    RetentionPoliciesForm.override_reason = TextAreaField(
        "Reason for keeping audit entries less than six years", [Length(max=2000)],
        default=audit.override_reason,
        description="Only needed below six years; kept with the policy and audited.")
    return RetentionPoliciesForm()


class DestroyForm(FlaskForm):
    reason = TextAreaField("Why the record is destroyed", [Length(max=2000)],
                           description="e.g. the retention period under state law has passed "
                                       "and the review found no reason to keep it.")
    confirm = BooleanField("I understand that this client's clinical notes will be destroyed "
                           "permanently and cannot be recovered from Hearth.")


class RetentionView(ConsoleView):
    def _today(self) -> Any:
        return today_in(self.settings.timezone)

    def _index_page(self, form: FlaskForm, status: int = 200) -> Any:
        current = retention.policies()
        runs = retention.recent_runs()
        return self.render("admin/retention.html", form=form, policies=current,
                           runs=[(run, retention.summary_lines(run)) for run in runs],
                           due=len(retention.due_for_review(self._today())),
                           run_form=ConfirmForm()), status

    @expose("/")
    def index(self) -> Any:
        return self._index_page(policies_form(retention.policies()))

    @expose("/policies", methods=("POST",))
    def save_policies(self) -> Any:
        current = retention.policies()
        form = policies_form(current)
        if form.validate_on_submit():
            values = {p.kind: getattr(form, p.kind).data for p in current}
            try:
                changed = retention.set_policies(current_user, values,
                                                 form.override_reason.data or "")
            except retention.InvalidPolicy as exc:
                for name, message in exc.errors.items():
                    getattr(form, name).errors = [message]
            else:
                flash("Retention policies saved." if changed else "Nothing changed.", "success")
                return redirect(url_for(".index"))
        return self._index_page(form, 400)

    @expose("/run", methods=("POST",))
    def run_now(self) -> Response:
        if not ConfirmForm().validate_on_submit():
            abort(400)
        run = retention.apply_policies()
        flash("Retention run finished: " + "; ".join(retention.summary_lines(run)) + ".",
              "success")
        return redirect(url_for(".index"))

    @expose("/review")
    def review(self) -> Any:
        today = self._today()
        due = retention.due_for_review(today)
        drafts = retention.stale_drafts(utcnow())
        record("view", object_type="retention_review")  # names clients: audited
        return self.render("admin/retention_review.html", due=due, drafts=drafts,
                           years=retention.years_for(retention.CLINICAL),
                           draft_years=retention.years_for(retention.DRAFTS),
                           destructions=retention.destructions())

    @expose("/clients/<int:client_id>/destroy", methods=("GET", "POST"))
    def destroy(self, client_id: int) -> Any:
        today = self._today()
        found = retention.due_for_review(today, client_id)
        if not found:
            if Client.get_or_none(Client.id == client_id) is None:
                abort(404)
            # Not on the review list: say so (the client's id only), offer nothing.
            return self.render("admin/retention_destroy.html", form=None, due=None,
                               client_id=client_id), 200 if request.method == "GET" else 409
        form = DestroyForm()
        if form.validate_on_submit():
            if not form.confirm.data:
                form.confirm.errors = ["Tick the box to confirm."]
            else:
                try:
                    retention.destroy_clinical_record(current_user, client_id,
                                                      form.reason.data or "", today)
                except retention.InvalidPolicy as exc:
                    form.reason.errors = list(exc.errors.values())
                except retention.NotDue:
                    flash("That record is no longer due for review; nothing was destroyed.",
                          "error")
                    return redirect(url_for(".review"))
                else:
                    flash("The clinical record was destroyed; the destruction is recorded.",
                          "success")
                    return redirect(url_for(".review"))
        record("view", object_type="retention_destroy", object_id=client_id,
               client_id=client_id)
        status = 400 if form.is_submitted() else 200
        return self.render("admin/retention_destroy.html", form=form, due=found[0]), status
